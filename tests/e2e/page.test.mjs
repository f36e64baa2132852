// The annotator page in a real browser (Debian's Chromium, driven by
// playwright-core): sign in, see a sample, label it with its key, undo it
// with "u", and read the result back over REST. No console errors allowed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const ARALD = process.env.ARALD || new URL("../../build/server/arald", import.meta.url).pathname;
const CLASSES = ["cat", "dog", "bird"];

function idx(n) {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x803, 0); head.writeUInt32BE(n, 4);
  head.writeUInt32BE(28, 8); head.writeUInt32BE(28, 12);
  const px = Buffer.alloc(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + Math.floor(i / 784) * 31) & 0xff;
  return gzipSync(Buffer.concat([head, px]));
}

async function startDaemon() {
  const dir = mkdtempSync(join(tmpdir(), "arald-e2e-"));
  const db = join(dir, "t.db"), portFile = join(dir, "port");
  execFileSync(ARALD, ["init", "--db", db, "--classes", CLASSES.join(","), "--shape", "28x28x1"]);
  writeFileSync(join(dir, "img.gz"), idx(5));
  execFileSync(ARALD, ["import", "--db", db, "--idx", join(dir, "img.gz")]);
  const out = execFileSync(ARALD, ["token", "create", "--db", db, "--role", "annotate", "--name", "e2e"]);
  const token = out.toString().trim().split(/\s+/).pop();
  const proc = spawn(ARALD, ["serve", "--db", db, "--port", "0", "--port-file", portFile],
                     { stdio: "inherit" });
  for (let i = 0; i < 200 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 25));
  const base = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/v1/ready`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { proc, base, token };
}

async function exported(d) {
  const r = await fetch(`${d.base}/v1/samples?state=labeled`,
                        { headers: { Authorization: `Bearer ${d.token}` } });
  return (await r.json()).items;
}

test("label a sample with its key, then undo, in Chromium", async () => {
  const d = await startDaemon();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--disable-quic"] });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    await page.goto(d.base + "/");
    await page.fill("#token", d.token);
    await page.fill("#annotator", "alice");
    await page.click("button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#sample")?.complete &&
                               document.querySelector("#sample").naturalWidth === 28);
    const shown = Number((await page.textContent("#caption")).split(" ")[1]);
    await page.keyboard.press("2");
    await page.waitForFunction(() => /Labeled/.test(document.querySelector("#message").textContent));
    let labeled = await exported(d);
    assert.equal(labeled.length, 1);
    assert.equal(labeled[0].sample_id, shown);
    assert.equal(labeled[0].label, "dog");
    await page.keyboard.press("u");
    await page.waitForFunction(() => /Undone/.test(document.querySelector("#message").textContent));
    labeled = await exported(d);
    assert.equal(labeled.length, 0);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    d.proc.kill("SIGTERM");
  }
});
