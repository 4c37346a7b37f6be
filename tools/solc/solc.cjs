#!/usr/bin/env node
// A `solc` command line backed by the npm `solc` package (solc-js, WebAssembly), for
// machines where no native solc can be had. It answers what py-solc-x and brownie ask:
//   --version                  fast: read from the package, the compiler is not loaded
//   --help                     includes the `--combined-json` line py-solc-x parses
//   --standard-json            JSON on stdin, JSON on stdout, imports read from disk
//   --combined-json LIST FILES the subset of outputs py-solc-x's compile_files/compile_source use
// plus --allow-paths, --base-path, --include-path, --optimize, --optimize-runs,
// --evm-version and `prefix=path` remappings. It is linked (not copied) into py-solc-x's
// compiler folder by tools/install_solc.py, so it finds its own node_modules via realpath.
"use strict";
const fs = require("fs");
const path = require("path");

const PROJECT = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(require.resolve("solc/package.json", { paths: [PROJECT] }), "utf8"));
const COMBINED = "abi,ast,bin,bin-runtime,devdoc,hashes,metadata,opcodes,srcmap,srcmap-runtime,storage-layout,userdoc";

function parseArgs(argv) {
  const opts = { files: [], remappings: [], allowPaths: [], includePaths: [], basePath: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i];
    if (a === "--version" || a === "--help" || a === "--standard-json" || a === "--optimize") opts[a.slice(2)] = true;
    else if (a === "--combined-json") opts.combined = value().split(",");
    else if (a === "--allow-paths") opts.allowPaths.push(...value().split(","));
    else if (a === "--base-path") opts.basePath = value();
    else if (a === "--include-path") opts.includePaths.push(value());
    else if (a === "--optimize-runs") opts.runs = Number(value());
    else if (a === "--evm-version") opts.evmVersion = value();
    else if (a === "-") opts.stdin = true;
    else if (a.startsWith("--")) { fail(`unrecognised option '${a}'`); }
    else if (a.includes("=")) opts.remappings.push(a);
    else opts.files.push(a);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(message + "\n");
  process.exitCode = 1;
  throw new Error(message);
}

function versionString() {
  // solc-js's version() needs the compiler loaded (~1 s); the package version plus the
  // commit it was built from (kept beside the wrapper on first full load) is instant.
  const cache = path.join(PROJECT, "node_modules", ".solc-version");
  try { return fs.readFileSync(cache, "utf8").trim(); } catch { /* first use */ }
  const full = require(require.resolve("solc", { paths: [PROJECT] })).version();
  try { fs.writeFileSync(cache, full); } catch { /* read-only install: answer anyway */ }
  return full;
}

function importReader(opts) {
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths];
  return (importPath) => {
    for (const root of roots) {
      const candidate = path.resolve(root, importPath);
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
    }
    return { error: `File not found: ${importPath}` };
  };
}

function compileStandard(inputText, opts) {
  const solc = require(require.resolve("solc", { paths: [PROJECT] }));
  return solc.compile(inputText, { import: importReader(opts) });
}

function combinedJson(opts, sourcesText) {
  const sources = {};
  for (const file of opts.files) sources[file] = { content: fs.readFileSync(file, "utf8") };
  if (opts.stdin) sources["<stdin>"] = { content: sourcesText };
  const wanted = new Set(opts.combined);
  const settings = {
    optimizer: { enabled: Boolean(opts.optimize), runs: opts.runs || 200 },
    remappings: opts.remappings,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers",
      "metadata", "devdoc", "userdoc", "storageLayout"], "": ["ast"] } },
  };
  if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
  const out = JSON.parse(compileStandard(JSON.stringify({ language: "Solidity", sources, settings }), opts));
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  if (errors.length) fail(errors.map((e) => e.formattedMessage).join("\n"));
  const result = { contracts: {}, sources: {}, version: versionString() };
  for (const [file, contracts] of Object.entries(out.contracts || {})) {
    for (const [name, c] of Object.entries(contracts)) {
      const entry = {};
      const put = (key, v) => { if (wanted.has(key)) entry[key] = v; };
      put("abi", c.abi);
      put("bin", c.evm.bytecode.object);
      put("bin-runtime", c.evm.deployedBytecode.object);
      put("opcodes", c.evm.bytecode.opcodes);
      put("srcmap", c.evm.bytecode.sourceMap);
      put("srcmap-runtime", c.evm.deployedBytecode.sourceMap);
      put("hashes", c.evm.methodIdentifiers);
      put("metadata", c.metadata);
      put("devdoc", c.devdoc);
      put("userdoc", c.userdoc);
      put("storage-layout", c.storageLayout);
      result.contracts[`${file}:${name}`] = entry;
    }
  }
  for (const [file, s] of Object.entries(out.sources || {})) {
    result.sources[file] = wanted.has("ast") ? { AST: s.ast, id: s.id } : { id: s.id };
  }
  return JSON.stringify(result);
}

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${versionString()}\n`);
  } else if (opts.help) {
    process.stdout.write(
      `solc ${pkg.version} (solc-js wrapper)\nUsage: solc [options] [input_file...]\n\n` +
      `  --standard-json      Standard JSON input on stdin, output on stdout.\n` +
      `  --combined-json ${COMBINED}\n` +
      `  --allow-paths, --base-path, --include-path, --optimize, --optimize-runs, --evm-version\n`);
  } else if (opts["standard-json"]) {
    process.stdout.write(compileStandard(readStdin(), opts));
  } else if (opts.combined) {
    process.stdout.write(combinedJson(opts, opts.stdin ? readStdin() : ""));
  } else {
    fail("nothing to do: pass --standard-json or --combined-json (this wrapper supports no other mode)");
  }
  // No process.exit(): Node must flush a large stdout to a pipe before it ends.
}

try { main(); } catch (e) { if (!process.exitCode) { process.stderr.write(String(e.stack || e) + "\n"); process.exitCode = 1; } }
