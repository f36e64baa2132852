// Latency as the annotator feels it: from the label key to the next image
// drawn, measured in the page (Chromium, playwright-core) over 50 labels
// against a real arald. Prints each figure, then one JSON object.
//   usage: node bench/page_latency.mjs   (after ninja -C build)
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const ROOT = new URL("../", import.meta.url).pathname;
const ARALD = process.env.ARALD || join(ROOT, "build/server/arald");
const LABELS = 50;

function idx(n) {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x803, 0); head.writeUInt32BE(n, 4);
  head.writeUInt32BE(28, 8); head.writeUInt32BE(28, 12);
  const px = Buffer.alloc(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + Math.floor(i / 784) * 31) & 0xff;
  return gzipSync(Buffer.concat([head, px]));
}

const dir = mkdtempSync(join(tmpdir(), "arald-latency-"));
const db = join(dir, "t.db"), portFile = join(dir, "port");
execFileSync(ARALD, ["init", "--db", db, "--classes", "cat,dog,bird", "--shape", "28x28x1"]);
writeFileSync(join(dir, "img.gz"), idx(500));
execFileSync(ARALD, ["import", "--db", db, "--idx", join(dir, "img.gz")]);
const token = execFileSync(ARALD, ["token", "create", "--db", db, "--role", "annotate", "--name", "b"])
  .toString().trim().split(/\s+/).pop();
const proc = spawn(ARALD, ["serve", "--db", db, "--port", "0", "--port-file", portFile,
                           "--min-labels", "1000000"], { stdio: "ignore" });
for (let i = 0; i < 400 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 25));
const base = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
for (let i = 0; i < 200; i++) {
  try { if ((await fetch(`${base}/v1/ready`)).ok) break; } catch { /* not yet */ }
  await new Promise((r) => setTimeout(r, 25));
}
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
                                        args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.fill("#token", token);
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
