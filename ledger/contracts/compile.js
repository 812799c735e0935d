// compile.js compiles src/*.sol with the solc version pinned in
// package.json and writes build/<Contract>.abi (JSON) and build/<Contract>.bin
// (hex creation bytecode). Run by `go generate ./ledger/...`.
// Usage: node compile.js [outDir]   (default: build/)
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = __dirname;
const srcDir = path.join(root, "src");
const outDir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, "build");
const contracts = ["DevStakeToken", "ComputeRegistry", "ComputePools"];

const sources = {};
for (const f of fs.readdirSync(srcDir).sort()) {
  if (f.endsWith(".sol")) {
    sources["src/" + f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
  }
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

function findImports(p) {
  const candidate = path.join(root, "node_modules", p);
  if (fs.existsSync(candidate)) {
    return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: "not found: " + p };
}

const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of out.errors || []) {
  process.stderr.write(e.formattedMessage + "\n");
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
for (const name of contracts) {
  const c = out.contracts["src/" + name + ".sol"][name];
  fs.writeFileSync(path.join(outDir, name + ".abi"), JSON.stringify(c.abi, null, 2) + "\n");
  fs.writeFileSync(path.join(outDir, name + ".bin"), c.evm.bytecode.object + "\n");
  const runtimeLen = c.evm.bytecode.object.length / 2;
  process.stdout.write(`${name}: ${runtimeLen} bytes of creation code (solc ${solc.version()})\n`);
}
