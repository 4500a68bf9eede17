// Differential test: random (seeded) CEL expressions are evaluated by npm
// @bufbuild/cel and by pgcdc's evaluator (cel_eval_cli); both must produce the
// same value, or both an error.
// Usage: node differential.js <cel_eval_cli> <node_modules dir> [count] [seed]
"use strict";
const path = require("path");
const { execFileSync } = require("child_process");

const [cli, modules, countArg, seedArg] = process.argv.slice(2);
if (!cli || !modules) {
  console.error("usage: differential.js <cel_eval_cli> <node_modules> [count] [seed]");
  process.exit(2);
}
const fs = require("fs");
if (!fs.existsSync(path.join(modules, "@bufbuild/cel"))) {
  console.error(`missing ${path.join(modules, "@bufbuild/cel")}: run npm ci in tests/tools`);
  process.exit(1);
}
const cel = require(path.resolve(modules, "@bufbuild/cel"));
let strings = [];
try {
  strings = require(path.resolve(modules, "@bufbuild/cel/dist/cjs/ext/index.js")).strings;
} catch (e) {
  strings = undefined;
}
const COUNT = Number(countArg || 4000);
let seed = Number(seedArg || 20251124) >>> 0;

// mulberry32
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const chance = (p) => rand() < p;

const INTS = ["0", "1", "2", "3", "7", "-1", "-5", "10", "42", "100", "9223372036854775807",
  "-9223372036854775808", "4611686018427387904", "-4611686018427387905", "3037000500"];
const UINTS = ["0u", "1u", "2u", "7u", "18446744073709551615u", "9223372036854775808u", "100u"];
const DOUBLES = ["0.0", "1.5", "-2.25", "3.0", "1e10", "-0.5", "2.5e-3", "100.0", "1e300"];
const STRS = ["''", "'a'", "'abc'", "'héllo'", "'pgcdc:orders'", "'ABC'", "'a,b,c'", "'x y'",
  "'order-123'"];
const SUBSTRS = ["''", "'a'", "'b'", "'c'", "'pgcdc:'", "'orders'", "'lo'", "'é'", "','"];

function intExpr(d) {
  if (d <= 0 || chance(0.3)) return pick(INTS);
  switch (Math.floor(rand() * 7)) {
    case 0: return `(${intExpr(d - 1)} + ${intExpr(d - 1)})`;
    case 1: return `(${intExpr(d - 1)} - ${intExpr(d - 1)})`;
    case 2: return `(${intExpr(d - 1)} * ${intExpr(d - 1)})`;
    case 3: return `(${intExpr(d - 1)} / ${intExpr(d - 1)})`;
    case 4: return `(${intExpr(d - 1)} % ${intExpr(d - 1)})`;
    case 5: return `-(${intExpr(d - 1)})`;
    default: return `size(${listExpr(d - 1)})`;
  }
}
function uintExpr(d) {
  if (d <= 0 || chance(0.3)) return pick(UINTS);
  const op = pick(["+", "-", "*", "/", "%"]);
  return `(${uintExpr(d - 1)} ${op} ${uintExpr(d - 1)})`;
}
function doubleExpr(d) {
  if (d <= 0 || chance(0.3)) return pick(DOUBLES);
  const op = pick(["+", "-", "*", "/"]);
  return `(${doubleExpr(d - 1)} ${op} ${doubleExpr(d - 1)})`;
}
function strExpr(d) {
  if (d <= 0 || chance(0.4)) return pick(STRS);
  switch (Math.floor(rand() * 3)) {
    case 0: return `(${strExpr(d - 1)} + ${strExpr(d - 1)})`;
    case 1: return `string(${intExpr(d - 1)})`;
    default: return `(${boolExpr(d - 1)} ? ${strExpr(d - 1)} : ${strExpr(d - 1)})`;
  }
}
function numExpr(d) {
  return pick([intExpr, uintExpr, doubleExpr])(d);
}
function listExpr(d) {
  if (d <= 0 || chance(0.3)) {
    const n = Math.floor(rand() * 4);
    const items = [];
    for (let i = 0; i < n; i++) items.push(pick(INTS.slice(0, 10)));
    return `[${items.join(", ")}]`;
  }
  switch (Math.floor(rand() * 4)) {
    case 0: return `(${listExpr(d - 1)} + ${listExpr(d - 1)})`;
    case 1: return `${listExpr(d - 1)}.map(x, ${pick(["x * 2", "x + 1", "10 / x", "x % 3", "-x"])})`;
    case 2: return `${listExpr(d - 1)}.filter(x, ${predicate(d - 1)})`;
    default: return `[${intExpr(d - 1)}, ${intExpr(d - 1)}]`;
  }
}
function predicate(d) {
  return pick(["x > 1", "x % 2 == 0", "10 / x > 2", "x != 3", "x < 0 || 10 / x == 5",
    "x == 0 && 1 / x == 1", `x in ${listExpr(0)}`]);
}
function boolExpr(d) {
  if (d <= 0 || chance(0.2)) {
    return pick(["true", "false", "(1 / 0 == 1)", "(1 < 2)", "('a' == 'b')"]);
  }
  switch (Math.floor(rand() * 16)) {
    case 0: return `(${boolExpr(d - 1)} && ${boolExpr(d - 1)})`;
    case 1: return `(${boolExpr(d - 1)} || ${boolExpr(d - 1)})`;
    case 2: return `!${boolExpr(d - 1)}`;
    case 3: return `(${intExpr(d - 1)} ${pick(["==", "!=", "<", "<=", ">", ">="])} ${intExpr(d - 1)})`;
    case 4: return `(dyn(${numExpr(d - 1)}) ${pick(["==", "!=", "<", "<=", ">", ">="])} ${numExpr(d - 1)})`;
    case 5: return `(${strExpr(d - 1)} ${pick(["==", "!=", "<", ">="])} ${strExpr(d - 1)})`;
    case 6: return `${strExpr(d - 1)}.${pick(["contains", "startsWith", "endsWith"])}(${pick(SUBSTRS)})`;
    case 7: return `${listExpr(d - 1)}.${pick(["all", "exists", "exists_one"])}(x, ${predicate(d - 1)})`;
    case 8: return `(${intExpr(d - 1)} in ${listExpr(d - 1)})`;
    case 9: return `(${boolExpr(d - 1)} ? ${boolExpr(d - 1)} : ${boolExpr(d - 1)})`;
    case 10: return `${strExpr(d - 1)}.matches(${pick(["'^a'", "'[0-9]+'", "'^$'", "'o.*s$'", "'é'"])})`;
    case 11: return `(size(${strExpr(d - 1)}) ${pick(["==", ">", "<"])} ${pick(["0", "3", "5"])})`;
    case 12: return `(${timestampExpr()} ${pick(["<", "==", ">="])} ${timestampExpr()})`;
    case 13: return `(${listExpr(d - 1)}[${pick(["0", "1", "2", "-1"])}] == ${pick(INTS.slice(0, 6))})`;
    case 14: return `({'a': ${intExpr(d - 1)}, 'b': 2}[${pick(["'a'", "'b'", "'c'"])}] > 1)`;
    default: return `has({'a': 1, 'b': {'c': true}}.${pick(["a", "b", "z"])})`;
  }
}
function timestampExpr() {
  const ts = pick(["'2009-02-13T23:31:30Z'", "'2024-02-29T12:00:00.5+02:00'",
    "'1970-01-01T00:00:00Z'", "'9999-12-31T23:59:59Z'", "'0001-01-01T00:00:00Z'"]);
  const dur = pick(["'1h'", "'-90m'", "'1.5s'", "'300ms'", "'1000000h'", "'0s'"]);
  return pick([`timestamp(${ts})`, `(timestamp(${ts}) + duration(${dur}))`,
    `(timestamp(${ts}) - duration(${dur}))`]);
}
function conversionExpr() {
  return pick([
    `int(${pick(["'42'", "'-7'", "'x'", "'9223372036854775808'", "1.9", "-1.9", "1e19", "3u", "18446744073709551615u"])})`,
    `uint(${pick(["'42'", "-1", "1.5", "'-1'", "7"])})`,
    `double(${pick(["'1.5'", "'-2e3'", "3", "3u"])})`,
    `string(${pick(["1", "-42", "18446744073709551615u", "true", "b'abc'", "'s'"])})`,
    `string(${timestampExpr()})`,
    `string(duration(${pick(["'1h2m3.5s'", "'-1.5s'", "'100ms'", "'0s'", "'1ns'"])}))`,
    `${pick(["timestamp('2009-02-13T23:31:30Z')", "timestamp('2024-02-29T23:59:59.999+01:00')", "timestamp('1969-12-31T23:00:00Z')", "(timestamp('2001-03-01T00:00:00Z') - duration('1s'))"])}.${pick(["getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds"])}(${pick(["", "'UTC'", "'+05:30'", "'-08:00'"])})`,
    `(duration(${pick(["'1h'", "'90m'", "'1.5s'"])}) + duration(${pick(["'1h'", "'-30m'", "'0.25s'"])}))`,
    `(timestamp(${pick(["'2009-02-13T23:31:30Z'", "'2024-01-01T00:00:00Z'"])}) - timestamp('2000-01-01T00:00:00Z'))`,
    `type(${pick(["1", "1u", "1.0", "'a'", "b'a'", "true", "null", "[1]", "{1: 2}", "int"])})`,
    `bool(${pick(["'true'", "'f'", "'yes'", "'1'"])})`,
  ]);
}

function generate() {
  const depth = 1 + Math.floor(rand() * 3);
  switch (Math.floor(rand() * 8)) {
    case 0: return intExpr(depth + 1);
    case 1: return uintExpr(depth);
    case 2: return doubleExpr(depth);
    case 3: return strExpr(depth);
    case 4: return listExpr(depth);
    case 5: return conversionExpr();
    default: return boolExpr(depth);
  }
}

// Canonical form of an @bufbuild/cel result (same layout as cel_eval_cli).
function canon(v) {
  if (cel.isCelError(v)) return { error: true, message: v.message };
  if (v === null) return { null: true };
  if (typeof v === "bigint") return { int: v.toString() };
  if (cel.isCelUint(v)) return { uint: v.value.toString() };
  if (typeof v === "number") return { double: v };
  if (typeof v === "string") return { string: v };
  if (typeof v === "boolean") return { bool: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString("hex") };
  if (cel.isCelList(v)) return { list: [...v.values()].map(canon) };
  if (cel.isCelMap(v)) return { map: sortEntries([...v.entries()].map(([k, x]) => [canon(k), canon(x)])) };
  if (cel.isCelType(v)) return { type: v.name };
  if (v && v.desc && v.desc.typeName === "google.protobuf.Timestamp") {
    return { timestamp: [String(v.message.seconds), v.message.nanos] };
  }
  if (v && v.desc && v.desc.typeName === "google.protobuf.Duration") {
    return { duration: [String(v.message.seconds), v.message.nanos] };
  }
  return { unsupported: String(v) };
}
function sortEntries(entries) {
  return entries.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
}
// Normalise our CLI output: errors lose their message, doubles become numbers.
function normalise(v) {
  if ("error" in v) return { error: true, message: v.error };
  if ("double" in v) {
    const d = v.double;
    return { double: d === "NaN" ? NaN : d === "Inf" ? Infinity : d === "-Inf" ? -Infinity : d };
  }
  if ("list" in v) return { list: v.list.map(normalise) };
  if ("map" in v) return { map: sortEntries(v.map.map(([k, x]) => [normalise(k), normalise(x)])) };
  return v;
}
function same(a, b) {
  if (a && b && typeof a === "object" && typeof b === "object" && a.error && b.error) return true;
  if (typeof a === "number" && typeof b === "number") {
    return (Number.isNaN(a) && Number.isNaN(b)) || a === b;
  }
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same(a[k], b[k]));
}

function reference(expr) {
  try {
    return canon(cel.run(expr, {}, strings ? { funcs: strings } : undefined));
  } catch (e) {
    return { error: true, message: String(e && e.message) };
  }
}

// Documented differences (docs/cel.md), where we follow cel-go / the spec:
//  * string(timestamp|duration): fraction trimmed like cel-go ("1.5s"), cel-es
//    pads to 3/6/9 digits ("1.500s");
//  * cel-es rejects uint division whose dividend exceeds INT64_MAX;
//  * MinInt64 % -1: overflow error here (cel-go), 0 in cel-es.
const trimFraction = (s) => s.replace(/\.(\d*?)0+(?=[sZ+-]|$)/g, (m, d) => (d ? "." + d : ""));
function knownDivergence(expr, ours, theirs) {
  if ("string" in ours && "string" in theirs && trimFraction(theirs.string) === ours.string) return true;
  if (theirs.error && /int overflow during divide/.test(theirs.message) && !ours.error) return true;
  if (ours.error && /overflow/.test(ours.message) && expr.includes("%") && !theirs.error) return true;
  // cel-es folds -(-x) to x, so it misses the overflow of -(INT64_MIN).
  if (ours.error && /overflow/.test(ours.message) && /-\(-/.test(expr) && !theirs.error) return true;
  return false;
}

const exprs = [];
const seen = new Set();
for (let i = 0; exprs.length < COUNT && i < COUNT * 5; i++) {
  const e = generate();
  if (!seen.has(e)) {
    seen.add(e);
    exprs.push(e);
  }
}
const out = execFileSync(cli, { input: exprs.join("\n") + "\n", maxBuffer: 256 << 20 }).toString();
const lines = out.split("\n");
let mismatches = 0;
let divergences = 0;
const kinds = {};
for (let i = 0; i < exprs.length; i++) {
  const ours = normalise(JSON.parse(lines[i]));
  const theirs = reference(exprs[i]);
  const k = Object.keys(theirs)[0];
  kinds[k] = (kinds[k] || 0) + 1;
  if (!same(ours, theirs) && knownDivergence(exprs[i], ours, theirs)) {
    divergences++;
  } else if (!same(ours, theirs)) {
    mismatches++;
    if (mismatches <= 30) {
      console.log(`MISMATCH ${exprs[i]}\n  ours:      ${lines[i]}\n  reference: ${JSON.stringify(theirs, (k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
    }
  }
}
console.log(`differential: ${exprs.length} expressions, ${mismatches} mismatches, ${divergences} documented divergences; reference results by kind: ${JSON.stringify(kinds)}`);
process.exit(mismatches === 0 ? 0 : 1);
