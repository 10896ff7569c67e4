// Evaluator for the local Convex deployment. Run as
//   node evaluator.mjs <request.json> <result.json>
// with the pushed modules already written beside the request. It never prints its result on
// stdout (a module may log while it loads); it writes one JSON document to <result.json>.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [, , requestFile, resultFile] = process.argv;
const req = JSON.parse(readFileSync(requestFile, "utf8"));
const dir = path.dirname(requestFile);

// The Convex runtime reaches the database and other services through these syscalls. The local
// deployment has no database, so every syscall fails with a clear message.
const noSyscall = (op) => {
  throw new Error(`${op} is not supported by the local Convex deployment (no database)`);
};
globalThis.Convex = {
  syscall: (op) => noSyscall(op),
  asyncSyscall: async (op) => noSyscall(op),
  jsSyscall: (op) => noSyscall(op),
};

function describe(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

async function load(rel) {
  return import(pathToFileURL(path.join(dir, "modules", rel)).href);
}

async function evaluateSchema(rel) {
  let mod;
  try {
    mod = await load(rel);
  } catch (err) {
    return { error: "import", message: `Uncaught ${describe(err)}` };
  }
  if (!("default" in mod) || mod.default === undefined) return { error: "missingDefault" };
  const def = mod.default;
  if (def === null || typeof def.export !== "function") return { error: "invalidExport" };
  try {
    const text = def.export();
    return { schema: JSON.parse(text) };
  } catch (err) {
    return { error: "invalidExport", message: describe(err) };
  }
}

function udfType(v) {
  if (v.isQuery) return "Query";
  if (v.isMutation) return "Mutation";
  if (v.isAction) return "Action";
  if (v.isHttp) return "HttpAction";
  return null;
}

async function analyzeModule(rel) {
  let mod;
  try {
    mod = await load(rel);
  } catch (err) {
    return { error: `Uncaught ${describe(err)}` };
  }
  const functions = [];
  for (const [name, v] of Object.entries(mod)) {
    if (v === null || (typeof v !== "function" && typeof v !== "object")) continue;
    const type = udfType(v);
    if (type === null || type === "HttpAction") continue;
    const visibility = v.isPublic ? { kind: "public" } : v.isInternal ? { kind: "internal" } : null;
    const args = typeof v.exportArgs === "function" ? v.exportArgs() : null;
    const returns = typeof v.exportReturns === "function" ? v.exportReturns() : null;
    functions.push({ name, udfType: type, visibility, args, returns });
  }
  return { functions };
}

async function analyze() {
  const out = { schema: null, modules: {} };
  if (req.schema) out.schema = await evaluateSchema(req.schema);
  for (const rel of req.analyze ?? []) out.modules[rel] = await analyzeModule(rel);
  return out;
}

// logLines collects what a function logs, in the backend's "[LOG] 'text'" form.
const logLines = [];
function captureConsole() {
  const levels = { log: "LOG", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG" };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => {
      const parts = args.map((a) => (typeof a === "string" ? `'${a}'` : JSON.stringify(a)));
      logLines.push(`[${level}] ${parts.join(" ")}`);
    };
  }
}

function withLogs(res) {
  if (logLines.length > 0) res.logLines = logLines;
  return res;
}

async function call() {
  captureConsole();
  let mod;
  try {
    mod = await load(req.module);
  } catch (err) {
    return { status: "error", errorMessage: `Uncaught ${describe(err)}` };
  }
  const fn = mod[req.name];
  const invoke = fn && (fn.invokeQuery ?? fn.invokeMutation);
  if (typeof invoke !== "function") {
    return { status: "error", errorMessage: `Could not find function for '${req.udfPath}'.` };
  }
  try {
    const text = await invoke(JSON.stringify([req.args ?? {}]));
    return withLogs({ status: "success", value: JSON.parse(text) });
  } catch (err) {
    const res = { status: "error", errorMessage: `Uncaught ${describe(err)}` };
    if (err && typeof err === "object" && typeof err.data === "string") {
      try {
        res.errorData = JSON.parse(err.data);
      } catch {
        // not ConvexError data
      }
    }
    return withLogs(res);
  }
}

const result = req.op === "call" ? await call() : await analyze();
writeFileSync(resultFile, JSON.stringify(result));
