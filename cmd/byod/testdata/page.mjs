// Opens the status page in Debian's chromium (driven by playwright-core), clicks Deploy and
// waits until the page shows "deployed". Prints "status: <final status>" and exits 0 on
// deployed, 1 otherwise. Usage: node page.mjs URL, with LOCAL_NODE_MODULES (holding
// playwright-core), CHROMIUM (the executable) and PROFILE_DIR (a fresh user-data dir).
import { createRequire } from "node:module";

const require = createRequire(process.env.LOCAL_NODE_MODULES + "/");
const { chromium } = require("playwright-core");

const url = process.argv[2];
const context = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
  executablePath: process.env.CHROMIUM,
  headless: true,
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
  await page.click("#deploy");
  await page.waitForFunction(
    () => ["deployed", "failed"].includes(document.getElementById("status").dataset.status),
    null, { timeout: 120000 },
  );
  const st = await page.getAttribute("#status", "data-status");
  console.log("timeline:\n" + (await page.innerText("#timeline")));
  console.log("schema version: " + (await page.innerText("#schemaVersion")));
  console.log("status: " + st);
  if (st === "deployed") code = 0;
} finally {
  await context.close();
}
process.exit(code);
