// Drives flow's live web view in headless Chromium (Debian's /usr/bin/chromium):
//   node web_view.mjs BASE_URL OUT_DIR
// Checks that the page loads and draws the graph, that the spectrum updates (frame counter
// and canvas pixels change), and that changing `src.frequency` through the page's form moves
// the spectrum peak there (as the page shows it, and as the REST API reports the parameter).
// Screenshots go to OUT_DIR. Exits non-zero with a message on any failure.
import { chromium } from "playwright-core";
import { mkdirSync, rmSync } from "node:fs";

const [base, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

// A fresh profile directory for every run.
rmSync(out + "/profile", { recursive: true, force: true });
const browser = await chromium.launchPersistentContext(out + "/profile", {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 1000 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("title").textContent.includes("web-view"), null, { timeout: 10000 })
    .catch(() => fail("the page did not load the flowgraph"));

  // The spectrum updates: frames arrive and the canvas changes.
  await page.waitForFunction(() => Number(document.getElementById("frames").textContent) >= 20, null, { timeout: 15000 })
    .catch(() => fail("fewer than 20 spectrum frames in 15 s"));
  const pixels = () => page.evaluate(() => document.getElementById("spectrum").toDataURL());
  const a = await pixels();
  await page.waitForTimeout(500);
  const b = await pixels();
  if (a === b) fail("the spectrum canvas did not change in 0.5 s");
  const fps = await page.evaluate(() => Number(document.getElementById("fps").textContent));
  if (!(fps >= 10)) fail(`spectrum at ${fps} frames/s, expected at least 10`);
  const peak = () => page.evaluate(() => Number(document.getElementById("peak").dataset.hz));
  const before = await peak();
  if (Math.abs(before - 3000) > 100) fail(`peak at ${before} Hz before the change, expected 3000`);
  await page.screenshot({ path: out + "/web-view-before.png", fullPage: true });

  // Change the frequency through the page.
  await page.fill("#param-src-frequency", "-12000");
  await page.click("#param-src-frequency-set");
  await page.waitForFunction(() => document.getElementById("param-status").textContent.includes("src.frequency = -12000"), null, { timeout: 10000 })
    .catch(async () => fail("the page did not confirm the change: " + await page.textContent("#param-status")));
  await page.waitForFunction(() => Math.abs(Number(document.getElementById("peak").dataset.hz) + 12000) < 100, null, { timeout: 10000 })
    .catch(async () => fail(`the peak did not move to -12000 Hz (at ${await peak()})`));
  const api = await page.evaluate(async () => (await (await fetch("/api/blocks/src/params")).json()).params.frequency);
  if (api !== -12000) fail(`REST reports frequency ${api}`);

  // A bad value is refused with the block's message.
  await page.fill("#param-src-frequency", "fast");
  await page.click("#param-src-frequency-set");
  await page.waitForFunction(() => document.getElementById("param-status").textContent.startsWith("invalid value for parameter `frequency`"), null, { timeout: 10000 })
    .catch(async () => fail("a bad value was not refused: " + await page.textContent("#param-status")));

  await page.waitForFunction(() => Number(document.getElementById("detection-count").textContent) >= 2, null, { timeout: 10000 })
    .catch(() => fail("no detections listed"));
  await page.waitForTimeout(1500); // let the waterfall show the move
  await page.screenshot({ path: out + "/web-view.png", fullPage: true });
  console.log(`ok: ${await page.textContent("#frames")} frames, peak ${before} Hz -> ${await peak()} Hz`);
} finally {
  await browser.close();
}
