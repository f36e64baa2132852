// Latency as the annotator feels it: from the label key to the next image
// drawn, measured in the page (Chromium, playwright-core) over 50 labels
// against a real arald. Prints each figure, then one JSON object.
//   usage: node bench/page_latency.mjs   (after ninja -C build)
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARALD, idxImages, initDb, token, serve, launchChromium } from "../tests/e2e/arald.mjs";

const LABELS = 50;

const { dir, db } = initDb("latency", ["--classes", "cat,dog,bird", "--shape", "28x28x1"]);
writeFileSync(join(dir, "img.gz"), idxImages(500));
execFileSync(ARALD, ["import", "--db", db, "--idx", join(dir, "img.gz")]);
const annotate = token(db, "annotate");
const { proc, base } = await serve(db, dir, ["--min-labels", "1000000"], "ignore");
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.fill("#token", annotate);
  await page.fill("#annotator", "bench");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  // In the page: the time of each key, and of the frame after the next
  // image is in the <img>.
  await page.evaluate(() => {
    window.lat = [];
    let t0 = 0;
    window.addEventListener("keydown", () => { t0 = performance.now(); }, true);
    document.querySelector("#sample").addEventListener("load", () => {
      if (t0) requestAnimationFrame(() => { window.lat.push(performance.now() - t0); t0 = 0; });
    });
  });
  for (let i = 0; i < LABELS; i++) {
    await page.waitForTimeout(150); // an annotator looks before pressing
    await page.keyboard.press(String(1 + (i % 3)));
    await page.waitForFunction((n) => window.lat.length === n, i + 1);
  }
  const lat = (await page.evaluate(() => window.lat)).sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  console.log(`key to next image drawn over ${lat.length} labels: median ${q(0.5).toFixed(1)} ms, ` +
              `p95 ${q(0.95).toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
  console.log(JSON.stringify({ labels: lat.length, median_ms: +q(0.5).toFixed(1),
                               p95_ms: +q(0.95).toFixed(1), max_ms: +lat[lat.length - 1].toFixed(1) }));
} finally {
  await browser.close();
  proc.kill("SIGTERM");
}
