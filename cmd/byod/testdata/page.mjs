// Drives the status page in Debian's chromium (through playwright-core) as a user does, talking
// to the Go test on stdin/stdout:
//   1. click Deploy, wait for "deployed"; print "step deploy: <status>";
//   2. print "ready: fail" and wait for a failed status (the test sends a deploy to a deployment
//      that is down); print "failed: <error shown>" and "hint: <hint shown>";
//   3. wait for the line "retry" on stdin (the deployment is up again), click Retry, wait for
//      "deployed"; print "step retry: <status>";
//   4. click the zip link and fetch it; print "zip: <status> <content type> <magic hex>
//      download <file name> <magic hex>";
//   5. print the timeline and "status: <final status>"; exit 0 on deployed, 1 otherwise.
// Usage: node page.mjs URL, with LOCAL_NODE_MODULES (holding playwright-core), CHROMIUM (the
// executable) and PROFILE_DIR (a fresh user-data dir).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const require = createRequire(process.env.LOCAL_NODE_MODULES + "/");
const { chromium } = require("playwright-core");

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expectLine(want) {
  const { value, done } = await stdin.next();
  if (done || value.trim() !== want) throw new Error(`stdin: got ${done ? "EOF" : JSON.stringify(value)}, want ${want}`);
}

const statusIs = (want) => document.getElementById("status").dataset.status === want;
const text = async (page, sel) => (await page.innerText(sel)).trim();

const url = process.argv[2];
const context = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
  executablePath: process.env.CHROMIUM,
  headless: true,
  acceptDownloads: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let code = 1;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => console.log("console:", m.text()));
  page.on("pageerror", (e) => console.log("page error:", e.message));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("ws").textContent === "live", null, { timeout: 30000 });

  // 1. Deploy to the session's deployment.
  await page.click("#deploy");
  await page.waitForFunction(
    () => ["deployed", "failed"].includes(document.getElementById("status").dataset.status),
    null, { timeout: 120000 },
  );
  const deployed = await page.getAttribute("#status", "data-status");
  console.log("step deploy: " + deployed);
  if (deployed !== "deployed") throw new Error("Deploy ended " + deployed + ": " + (await text(page, "#error")));

  // 2. A deploy that fails arrives live.
  console.log("ready: fail");
  await page.waitForFunction(statusIs, "failed", { timeout: 120000 });
  console.log("failed: " + (await text(page, "#error")));
  console.log("hint: " + (await text(page, "#hint")));

  // 3. Retry once the test says the deployment is back.
  await expectLine("retry");
  await page.click("#retry");
  await page.waitForFunction(() => document.getElementById("message").textContent.startsWith("retry requested"), null, { timeout: 30000 });
  await page.waitForFunction(statusIs, "deployed", { timeout: 120000 });
  console.log("step retry: " + (await page.getAttribute("#status", "data-status")));

  // 4. The zip link: as a download, and fetched for its status and content type.
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click("#zip")]);
  const downloaded = readFileSync(await download.path()).subarray(0, 4).toString("hex");
  const fetched = await page.evaluate(async () => {
    const r = await fetch(document.getElementById("zip").href);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get("content-type"), magic: Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, "0")).join("") };
  });
  console.log(`zip: ${fetched.status} ${fetched.type} ${fetched.magic} download ${download.suggestedFilename()} ${downloaded}`);

  const st = await page.getAttribute("#status", "data-status");
  console.log("timeline:\n" + (await page.innerText("#timeline")));
  console.log("schema version: " + (await page.innerText("#schemaVersion")));
  console.log("status: " + st);
  if (st === "deployed") code = 0;
} catch (e) {
  console.log("error: " + e.message);
} finally {
  await context.close();
}
process.exit(code);
