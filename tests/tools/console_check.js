// Drives the pgcdc web console in headless Debian Chromium (playwright-core,
// no downloaded browser). Usage: node console_check.js <base-url> <screenshot.png>
// The scenario test keeps sending NOTIFYs on con:a and con:b while this runs.
// Prints "OK" and exits 0 when every check passed; otherwise prints why, exits 1.
"use strict";
const { launchChromium, checkScreenshot, run } = require("./chromium");

async function main() {
  const [base, shot] = process.argv.slice(2);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base + "/");
    const t = { timeout: 20000 };
    // Adapter table fills from /api/stats and /healthz.
    await page.waitForSelector('tr[data-adapter="stdout"] .health.up', t);
    await page.waitForFunction(() =>
      Number(document.querySelector('tr[data-adapter="stdout"] .delivered').textContent) > 0, null, t);
    await page.waitForFunction(() => document.getElementById("status").textContent === "up", null, t);
    // Live stream shows events of both channels.
    await page.waitForFunction(() => {
      const chans = new Set([...document.querySelectorAll("#events li")].map((li) => li.dataset.channel));
      return chans.has("con:a") && chans.has("con:b");
    }, null, t);
    // A long event line (the test sends some) must not widen the page: the
    // buttons and every adapter column stay on screen at 1280 px.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#events li")].some((li) => li.textContent.length > 1000), null, t);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scrollWidth > 1280) throw new Error(`page is ${scrollWidth}px wide at a 1280px viewport`);
    for (const sel of ["#pause", "#apply", "th:text('Failed')", "th:text('Backlog')"]) {
      const b = await page.locator(sel).first().boundingBox();
      if (!b || b.x < 0 || b.x + b.width > 1280) throw new Error(`${sel} off-screen: ${JSON.stringify(b)}`);
    }
    // Channel filter: only con:b from now on.
    await page.fill("#channel", "con:b");
    await page.click("#apply");
    await page.waitForFunction(() => document.querySelectorAll("#events li").length >= 5, null, t);
    const chans = await page.$$eval("#events li", (lis) => lis.map((li) => li.dataset.channel));
    if (chans.some((c) => c !== "con:b")) throw new Error("filter leaked: " + chans.join(","));
    // Pause: the list stops changing while events keep arriving.
    await page.click("#pause");
    const frozen = await page.$$eval("#events li", (lis) => lis.map((li) => li.dataset.id).join());
    await page.waitForFunction(() => Number(document.getElementById("held").textContent) >= 5, null, t);
    const after = await page.$$eval("#events li", (lis) => lis.map((li) => li.dataset.id).join());
    if (after !== frozen) throw new Error("list changed while paused");
    if (await page.isHidden("#paused-banner")) throw new Error("paused banner not shown");
    // Resume: new events appear again.
    await page.click("#pause");
    await page.waitForFunction((old) =>
      [...document.querySelectorAll("#events li")].map((li) => li.dataset.id).join() !== old, frozen, t);
    // Screenshot: a real rendering of the page, not a blank one.
    checkScreenshot(await page.screenshot({ path: shot, fullPage: false }), shot, 1280, 800, 20000);
    const box = await page.locator("#events").boundingBox();
    if (!box || box.height < 50) throw new Error("event list not visible");
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
  } finally {
    await browser.close();
  }
}

run(main);
