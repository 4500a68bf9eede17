// Headless Debian Chromium through playwright-core (no downloaded browser),
// with the flags this machine's closed network needs, for the page tests.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");

function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Fails unless `png` (a screenshot buffer written to `path`) is a real
// rendering of the given size and not a blank page.
function checkScreenshot(png, path, width, height, minBytes) {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error("screenshot is not a PNG");
  const w = png.readUInt32BE(16), h = png.readUInt32BE(20);
  if (w !== width || h !== height) throw new Error(`screenshot is ${w}x${h}`);
  if (fs.statSync(path).size < minBytes) throw new Error("screenshot looks blank (too small)");
}

// Runs `main` and reports like the scenario tests expect: "OK" on success,
// "FAIL <why>" and exit 1 otherwise.
function run(main) {
  main().then(() => console.log("OK"), (e) => {
    console.log("FAIL " + (e && e.stack ? e.stack : e));
    process.exit(1);
  });
}

module.exports = { launchChromium, checkScreenshot, run };
