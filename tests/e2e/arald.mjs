// What the browser tests and bench/page_latency.mjs share: a real arald
// over a fresh SQLite file, started the way its operator starts it, and
// Debian's Chromium under playwright-core.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const ROOT = new URL("../../", import.meta.url).pathname;
export const ARALD = process.env.ARALD || join(ROOT, "build/server/arald");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// n 28x28 images, gzipped IDX; image i shows class (i + offset) % 3 as
// bars in one of three directions, with noise, so a model can learn them.
export function idxImages(n, offset = 0) {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x803, 0); head.writeUInt32BE(n, 4);
  head.writeUInt32BE(28, 8); head.writeUInt32BE(28, 12);
  const px = Buffer.alloc(n * 784);
  let seed = 7 + offset;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const c = (i + offset) % 3, on = c === 0 ? y % 6 < 3 : c === 1 ? x % 6 < 3 : (x + y) % 8 < 4;
        px[i * 784 + y * 28 + x] = Math.min(255, (on ? 190 : 30) + Math.floor(rnd() * 60));
      }
  return gzipSync(Buffer.concat([head, px]));
}

// Their labels, gzipped IDX.
export function idxLabels(n, offset = 0) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0x801, 0); head.writeUInt32BE(n, 4);
  return gzipSync(Buffer.concat([head, Buffer.from(Array.from({ length: n }, (_, i) => (i + offset) % 3))]));
}

// A new database in a temporary directory: `arald init` with initArgs.
export function initDb(name, initArgs) {
  const dir = mkdtempSync(join(tmpdir(), `arald-${name}-`));
  const db = join(dir, "t.db");
  execFileSync(ARALD, ["init", "--db", db, ...initArgs]);
  return { dir, db };
}

export function token(db, role) {
  return execFileSync(ARALD, ["token", "create", "--db", db, "--role", role, "--name", role])
    .toString().trim().split(/\s+/).pop();
}

// `arald serve` on a free port; resolves once /v1/ready answers.
export async function serve(db, dir, extra = [], stdio = "inherit") {
  const portFile = join(dir, "port");
  const proc = spawn(ARALD, ["serve", "--db", db, "--port", "0", "--port-file", portFile, ...extra],
                     { stdio });
  for (let i = 0; i < 400 && !existsSync(portFile); i++) await sleep(25);
  const base = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/v1/ready`)).ok) break; } catch { /* not yet */ }
    await sleep(25);
  }
  return { proc, base };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--disable-quic"] });
}
