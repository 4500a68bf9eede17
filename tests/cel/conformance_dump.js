// Prints the CEL conformance suite shipped in @bufbuild/cel-spec as one JSON
// document: {"sections": [{"name", "tests": [{"path", ...SimpleTest fields}]}]}.
// The test fields are the protobuf-JSON form of cel.expr.conformance.test.SimpleTest.
// Usage: node conformance_dump.js <node_modules dir>
"use strict";
const path = require("path");
const modules = process.argv[2];
const data = require(path.join(modules, "@bufbuild/cel-spec/dist/cjs/testdata/conformance.js"));

const sections = [];
for (const section of data.tests.suites || []) {
  const tests = [];
  const walk = (suite, prefix) => {
    for (const t of suite.tests || []) {
      tests.push({ path: prefix + "/" + (t.original.name || t.original.expr), ...t.original });
    }
    for (const s of suite.suites || []) walk(s, prefix + "/" + s.name);
  };
  walk(section, section.name);
  sections.push({ name: section.name, tests });
}
process.stdout.write(JSON.stringify({ sections }));
