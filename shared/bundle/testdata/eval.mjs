// Test helper: bundles the project's schema or functions with the pinned CLI's esbuild, the way
// `convex deploy` does, and evaluates them in Node.
//   node eval.mjs schema  -> the schema's export() JSON, pretty-printed (what the backend reads)
//   node eval.mjs ping    -> the JSON result of the public query functions:ping called with {}
// Run with the project as the working directory and node_modules linked to the CLI install.
import { build } from "esbuild";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";

async function load(entry) {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    logLevel: "silent",
  });
  const file = entry.replace(/\.ts$/, ".eval.mjs");
  await writeFile(file, out.outputFiles[0].contents);
  return import(pathToFileURL(file).href);
}

const what = process.argv[2];
if (what === "schema") {
  const m = await load("convex/schema.ts");
  process.stdout.write(JSON.stringify(JSON.parse(m.default.export()), null, 2) + "\n");
} else if (what === "ping") {
  const m = await load("convex/functions.ts");
  process.stdout.write((await m.ping.invokeQuery("[{}]")) + "\n");
} else {
  console.error(`eval.mjs: unknown mode ${what}`);
  process.exit(2);
}
