// Drives the `pgcdc serve` web page in headless Debian Chromium
// (playwright-core, no downloaded browser): validate a bad and a good entry,
// create a pipeline from the page, pause, resume, stop and delete it.
// Usage: node serve_console_check.js <base-url> <token> <pipeline-json> <screenshot.png>
// Prints "OK" and exits 0 when every check passed; otherwise prints why, exits 1.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");

async function main() {
  const [base, token, spec, shot] = process.argv.slice(2);
  const name = JSON.parse(spec).name;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 },
                                         httpCredentials: { username: "operator", password: token } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base + "/");
    const t = { timeout: 20000 };
    const status = (want) => page.waitForFunction(([n, w]) => {
      const cell = document.querySelector(`tr[data-pipeline="${n}"] .status`);
      return cell && cell.textContent === w;
    }, [name, want], t);
    const click = async (action) => {
      await page.click(`tr[data-pipeline="${name}"] button[data-action="${action}"]`);
    };
    // A bad entry: the page shows the validation errors.
    await page.fill("#spec", JSON.stringify({ name, sse: { adr: "x" } }));
    await page.click("#validate");
    await page.waitForFunction(() => document.getElementById("message").textContent.includes("sse.adr"), null, t);
    // The good one: valid, then created and started.
    await page.fill("#spec", spec);
    await page.click("#validate");
    await page.waitForFunction(() => document.getElementById("message").textContent === "valid", null, t);
    await page.click("#create");
    await status("running");
    await click("pause");
    await status("paused");
    await click("resume");
    await status("running");
    await page.waitForFunction(() => document.getElementById("ready").textContent === "ready", null, t);
    const png = await page.screenshot({ path: shot, fullPage: false });
    if (png.readUInt32BE(0) !== 0x89504e47) throw new Error("screenshot is not a PNG");
    if (fs.statSync(shot).size < 10000) throw new Error("screenshot looks blank (too small)");
    await click("stop");
    await status("stopped");
    await click("delete");
    await page.waitForFunction((n) => !document.querySelector(`tr[data-pipeline="${n}"]`), name, t);
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    console.log("OK");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log("FAIL " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
