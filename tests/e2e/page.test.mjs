// The annotator page and the operator dashboard in a real browser
// (Debian's Chromium, driven by playwright-core), against a real arald
// over a real SQLite file. What an annotator does by keyboard alone ends
// up in the database exactly; a reload keeps the leases; a lost lease is
// explained; a round shows up on both pages without a reload; axe-core
// finds no serious or critical violation. Screenshots go to
// build/screenshots/ as artefacts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ARALD, idxImages, idxLabels, initDb, token, serve, launchChromium } from "./arald.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHOTS = join(ROOT, "build/screenshots");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const CLASSES = ["cat", "dog", "bird"];
const N = 150;

const truth = (sampleId) => (sampleId - 1) % 3;

async function startDaemon(extra = []) {
  const { dir, db } = initDb("e2e", ["--classes", CLASSES.join(","), "--shape", "28x28x1"]);
  writeFileSync(join(dir, "img.gz"), idxImages(N));
  execFileSync(ARALD, ["import", "--db", db, "--idx", join(dir, "img.gz")]);
  // an eval split with known labels, so rounds report an accuracy
  writeFileSync(join(dir, "eval.gz"), idxImages(30, 1));
  writeFileSync(join(dir, "eval-labels.gz"), idxLabels(30, 1));
  execFileSync(ARALD, ["import", "--db", db, "--idx", join(dir, "eval.gz"), "--labels",
                       join(dir, "eval-labels.gz"), "--split", "eval"]);
  const tokens = { annotate: token(db, "annotate"), admin: token(db, "admin") };
  // rounds of 20 iterations: the pages show a round, whatever it learned,
  // and a shorter one leaves the browser more of the 2 cores (74 s for
  // these cases at 60 iterations, 65 s at 20)
  const { proc, base } = await serve(db, dir, ["--min-labels", "20", "--retrain-every", "20",
                                               "--round-iters", "20", ...extra]);
  const call = async (method, path, body, role = "admin") => {
    const r = await fetch(base + path, { method, headers: {
      Authorization: `Bearer ${tokens[role]}`, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined });
    return r.headers.get("content-type")?.includes("json") ? r.json() : r.text();
  };
  const sql = (q) => execFileSync("sqlite3", [db, q]).toString().trim();
  return { proc, base, tokens, db, call, sql };
}

// A test's body against a fresh daemon (startDaemon's extra flags): the
// pages it opens put console errors in problems, which must stay empty;
// the daemon stops however the body ends.
async function withDaemon(extra, body) {
  const d = await startDaemon(extra);
  const problems = [];
  try {
    await body(d, problems);
    assert.deepEqual(problems, []);
  } finally {
    d.proc.kill("SIGTERM");
  }
}

// Labels n samples by their truth over REST (another annotator).
async function labelOver(d, n, annotator = "seed") {
  const got = await d.call("POST", "/v1/leases", { annotator, n });
  const items = got.items.map((l) => ({ lease_id: l.lease_id, label: CLASSES[truth(l.sample_id)] }));
  await d.call("POST", "/v1/labels", { items });
}

async function waitModel(d, version) {
  for (let i = 0; i < 600; i++) {
    const m = await d.call("GET", "/v1/model");
    if (m.model_version >= version && m.state === "idle") return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no model " + version);
}

let browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});
after(async () => { await browser?.close(); });

// Puts the page's uncaught exceptions and console errors in problems,
// but for those the test causes itself (by default a refused request,
// whose words the test checks).
function watch(page, name, problems, ours = /status of 409/) {
  page.on("pageerror", (e) => problems.push(`${name}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !ours.test(m.text())) problems.push(`${name}: ${m.text()}`);
  });
  return page;
}

// A page in a browser profile of its own, watched.
async function openPage(d, path, problems, ours = undefined) {
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const page = watch(await ctx.newPage(), path, problems, ours);
  await page.goto(d.base + path);
  return page;
}

async function signIn(page, d, role = "annotate", name = "alice") {
  await page.fill("#token", d.tokens[role]);
  if (await page.locator("#annotator").count()) await page.fill("#annotator", name);
  await page.keyboard.press("Enter");
}

const shown = async (page) => Number((await page.textContent("#caption")).split(" ")[1]);
const suggestion = (page) => page.evaluate(() => {
  const b = document.querySelector("#classes button[aria-pressed=true]");
  return b ? Number(b.dataset.index) : null;
});

async function axe(page, what) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => (await window.axe.run(document)).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length})`));
  assert.deepEqual(res, [], `${what}: ${res.join("; ")}`);
}

test("20 labels by keyboard, the last undone and given again, one skipped: the database holds the 20", () => withDaemon([], async (d, problems) => {
  await labelOver(d, 20);           // a model first, so there are suggestions
  await waitModel(d, 1);
  const page = await openPage(d, "/", problems);
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  // the default strategy does not use S(z): the page does not show it
  assert.match(await page.textContent("#why"), /strategytypical-mass.*suggestion/);
  assert.doesNotMatch(await page.textContent("#why"), /S\(z\)/);
  await page.screenshot({ path: join(SHOTS, "annotator.png") });
  await axe(page, "annotator page");
  const want = new Map();
  let accepted = 0, overridden = 0, skipped = null, undone = null;
  for (let i = 0; i < 21; i++) {
    const id = await shown(page);
    const s = await suggestion(page);
    if (i === 7) { skipped = id; await page.keyboard.press("s"); }
    else if (s != null && i % 3 !== 1) { // accept the suggestion
      want.set(id, s); accepted++; await page.keyboard.press("Enter");
    } else {                             // another class than suggested
      const c = s == null ? truth(id) : (s + 1) % 3;
      want.set(id, c); overridden++; await page.keyboard.press(String(c + 1));
    }
    await page.waitForFunction((prev) => {
      const t = document.querySelector("#caption").textContent;
      return t.startsWith("sample ") && !t.startsWith(`sample ${prev} `);
    }, id);
    if (i === 20) {                      // undo the label just given
      await page.waitForFunction((x) => document.querySelector("#message").textContent
        .includes(`sample ${x} as`), id);
      await page.keyboard.press("u");
      await page.waitForFunction(() => /Undid/.test(document.querySelector("#message").textContent));
      undone = id; want.delete(id);
      await page.waitForFunction(() => Number(document.querySelector("#mine").textContent) === 19);
      // the undone sample is back on screen, leased to alice again (no
      // one else's lease request can take it), and takes its label again
      assert.equal(await shown(page), id);
      assert.match(await page.textContent("#why"), /lease ends/);
      assert.equal(d.sql(`SELECT annotator || ':' || state FROM leases WHERE sample_id = ${id} ` +
                         "ORDER BY id DESC LIMIT 1"), "alice:active");
      want.set(id, truth(id));
      await page.keyboard.press(String(truth(id) + 1));
      await page.waitForFunction((x) => document.querySelector("#message").textContent
        .startsWith(`Labeled sample ${x} as`), id);
    }
  }
  await page.waitForFunction(() => Number(document.querySelector("#mine").textContent) === 20);
  assert.ok(accepted >= 5 && overridden >= 5, `accepted ${accepted}, overridden ${overridden}`);
  const rows = d.sql("SELECT s.id, s.label FROM samples s JOIN labels l ON l.id = s.label_id " +
                     "WHERE l.annotator = 'alice' ORDER BY s.id").split("\n").filter(Boolean)
    .map((r) => r.split("|").map(Number));
  assert.equal(rows.length, 20, rows.join(" "));
  assert.deepEqual(new Map(rows), want);
  // the undone label, its retraction, then the label given again (through
  // the lease the undo took)
  assert.equal(d.sql("SELECT group_concat((label IS NULL) || ':' || (lease_id IS NULL)) FROM " +
                     `(SELECT * FROM labels WHERE sample_id = ${undone} ORDER BY id)`), "0:0,1:1,0:0");
  // a skip: the sample went back, and never again to alice
  assert.equal(d.sql(`SELECT group_concat(state || ':' || skipped) FROM leases ` +
                     `WHERE sample_id = ${skipped} AND annotator = 'alice'`), "released:1");
  // signing out hands the samples the page held back unseen, not skipped
  const held = Number(d.sql("SELECT count(*) FROM leases WHERE annotator = 'alice' " +
                            "AND state = 'active'"));
  assert.ok(held >= 1, `alice holds ${held} leases`);
  await page.click("#signout");
  for (let t = 0; t < 100 && d.sql("SELECT count(*) FROM leases WHERE annotator = 'alice' " +
                                   "AND state = 'active'") !== "0"; t++)
    await new Promise((r) => setTimeout(r, 100));
  const left = d.sql("SELECT sum(state = 'active') || ' ' || sum(skipped) || ' ' || " +
                     "sum(state = 'released' AND skipped = 0) FROM leases " +
                     "WHERE annotator = 'alice'").split(" ").map(Number);
  assert.ok(left[0] === 0 && left[1] === 1 && left[2] >= held, left.join(" "));
}));

test("an earlier label is undone from the list of the last labels and given again", () => withDaemon([], async (d, problems) => {
  const page = await openPage(d, "/", problems);
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  await page.waitForSelector("#nohistory", { state: "visible" });
  // beside the sample, however long the reason before any model
  const [fig, side] = [await page.locator("figure").boundingBox(), await page.locator("aside").boundingBox()];
  assert.ok(side.x >= fig.x + fig.width && side.y < fig.y + fig.height, JSON.stringify([fig, side]));
  const ids = [];
  for (let i = 0; i < 4; i++) { // fewer than min_labels: no round meanwhile
    const id = await shown(page);
    ids.push(id);
    await page.keyboard.press(String(truth(id) + 1));
    await page.waitForFunction((x) => document.querySelector("#message").textContent
      .startsWith(`Labeled sample ${x} as`), id);
  }
  const items = () => page.$$eval("#history li", (lis) => lis.map((li) => li.textContent));
  const want = (x, tail = " Undo") => `sample ${x}: ${CLASSES[truth(x)]}${tail}`;
  await page.waitForFunction(() => document.querySelectorAll("#history li").length === 4);
  assert.deepEqual(await items(), ids.slice().reverse().map((x) => want(x)));
  assert.equal(await page.isVisible("#nohistory"), false);
  // another annotator labels alice's second sample again, by its id
  await d.call("POST", "/v1/labels", { sample_id: ids[1], label: CLASSES[(truth(ids[1]) + 1) % 3],
                                       annotator: "bob" }, "annotate");
  // undo the first of the four from the list: it comes back on screen
  const before = await shown(page);
  await page.click(`#history button[aria-label="undo ${CLASSES[truth(ids[0])]} of sample ${ids[0]}"]`);
  await page.waitForFunction((x) => document.querySelector("#message").textContent
    .startsWith(`Undid the label`) && document.querySelector("#message").textContent.includes(`sample ${x}:`), ids[0]);
  assert.equal(await shown(page), ids[0]);
  await page.waitForFunction(() => Number(document.querySelector("#mine").textContent) === 3);
  await page.waitForFunction((x) => [...document.querySelectorAll("#history li")]
    .some((li) => li.textContent === x), want(ids[0], " (undone)"));
  assert.deepEqual(await items(), [want(ids[3]), want(ids[2]), want(ids[1], " (labeled again since)"),
                                   want(ids[0], " (undone)")]);
  await axe(page, "annotator page with its last labels");
  await page.screenshot({ path: join(SHOTS, "annotator-last-labels.png") });
  // given again (through the lease the undo took), then the one that was
  // on screen before it
  await page.keyboard.press(String(truth(ids[0]) + 1));
  await page.waitForFunction((x) => document.querySelector("#message").textContent
    .startsWith(`Labeled sample ${x} as`), ids[0]);
  assert.equal(await shown(page), before);
  await page.waitForFunction((x) => document.querySelector("#history li")?.textContent === x, want(ids[0]));
  assert.equal(d.sql("SELECT group_concat((label IS NULL) || ':' || annotator) FROM " +
                     `(SELECT * FROM labels WHERE sample_id = ${ids[0]} ORDER BY id)`),
               "0:alice,1:alice,0:alice");
  assert.equal(d.sql(`SELECT l.annotator FROM samples s JOIN labels l ON l.id = s.label_id WHERE s.id = ${ids[1]}`),
               "bob");
}));

// Leases of 8 s: long enough for a sign-in and a reload on a busy machine
// (with 2 s, a lease ran out before the reload restored it, and the page
// rightly leased a fifth).
test("a reload keeps the leases; a lost lease is explained", () => withDaemon(["--lease-ttl", "8"], async (d, problems) => {
  const page = await openPage(d, "/", problems);
  // a name over arald's 63 bytes is stopped by the form, with the reason
  await signIn(page, d, "annotate", "é".repeat(32));
  assert.match(await page.evaluate(() => document.querySelector("#annotator").validationMessage),
               /63 bytes of UTF-8: this name has 64/);
  assert.equal(await page.isVisible("#login"), true);
  assert.equal(d.sql("SELECT count(*) FROM leases"), "0");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const first = await shown(page);
  const held = () => d.sql("SELECT count(*) FROM leases WHERE annotator = 'alice'");
  await page.waitForFunction(() => JSON.parse(localStorage.getItem("arald.leases")).length === 4);
  assert.equal(held(), "4");
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  assert.equal(await shown(page), first);  // the same sample, no new lease
  assert.equal(held(), "4");
  // the leases run out and another annotator takes every sample
  const ends = await page.evaluate(() =>
    Math.max(...JSON.parse(localStorage.getItem("arald.leases")).map((l) => Date.parse(l.expires_at))));
  await new Promise((r) => setTimeout(r, Math.max(0, ends - Date.now()) + 300));
  for (let k = 0; k < 2; k++) await d.call("POST", "/v1/leases", { annotator: "bob", n: 100 });
  await page.keyboard.press("1");
  await page.waitForFunction(() => /ran out/.test(document.querySelector("#message").textContent));
  assert.match(await page.textContent("#message"), new RegExp(`Sample ${first}: .*someone else took it`));
  assert.equal(d.sql(`SELECT count(*) FROM labels WHERE sample_id = ${first}`), "0");
}));

test("with nothing to label, the page shows a sample once one is free, without a key press", () => withDaemon([], async (d, problems) => {
  const taken = [];
  for (let k = 0; k < 2; k++)
    taken.push(...(await d.call("POST", "/v1/leases", { annotator: "bob", n: 100 })).items);
  assert.equal(taken.length, N);
  const page = await openPage(d, "/", problems);
  await signIn(page, d);
  await page.waitForFunction(() => /Nothing to label right now/.test(document.querySelector("#caption").textContent));
  await d.call("DELETE", `/v1/leases/${taken[7].lease_id}?reason=return`, null, "annotate");
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28, null, { timeout: 15000 });
  assert.equal(await shown(page), taken[7].sample_id);
}));

// The network between page and server fails the way it does in the
// field: the first label's reply is lost after arald recorded it, the
// second meets a busy server (503) and then a refused connection.
test("a label whose reply is lost, or that meets a busy server, is sent again and recorded once", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems, /503|ERR_CONNECTION_(RESET|REFUSED)/);
  const sent = [];
  await page.route("**/v1/labels", async (route) => {
    const n = sent.push(route.request().headers()["idempotency-key"]);
    if (n === 1) { await route.fetch(); return route.abort("connectionreset"); }
    if (n === 3) return route.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "1" },
      body: JSON.stringify({ type: "about:blank", title: "busy", status: 503, code: "storage_busy" }) });
    if (n === 4) return route.abort("connectionrefused");
    const res = await route.fetch();
    sent[n - 1] += res.headers()["idempotent-replayed"] === "true" ? " replayed" : "";
    return route.fulfill({ response: res });
  });
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const said = (re) => page.waitForFunction((re) => new RegExp(re).test(document.querySelector("#message").textContent), re);
  const a = await shown(page);
  await page.keyboard.press("1");
  await said(`^Labeled sample ${a} as cat`);
  const b = await shown(page);
  await page.keyboard.press("2");
  await said(`^Sample ${b}: The server is busy.*Sending its label again`);
  await said(`^Labeled sample ${b} as dog`);
  assert.equal(sent.length, 5, sent.join(", "));
  assert.equal(sent[1], `${sent[0]} replayed`);   // one key per label, kept
  assert.ok(sent[2] === sent[3] && sent[3] === sent[4] && sent[2] !== sent[0], sent.join(", "));
  assert.equal(d.sql(`SELECT group_concat(l.sample_id || ':' || c.name) FROM labels l ` +
                     `JOIN classes c ON c.id = l.label ORDER BY l.id`), `${a}:cat,${b}:dog`);
  assert.equal(await page.textContent("#mine"), "2");
}));

// A leased sample whose image cannot be fetched is not shown: the page
// hands its lease back unseen rather than hold the sample from everyone
// until the lease runs out (ten minutes by default).
test("a lease whose image fails to load is handed back, not held", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems, /503/);
  let broken = null;
  await page.route("**/v1/samples/*/image", (route) => {
    if (broken != null) return route.continue();
    broken = Number(route.request().url().split("/").at(-2));
    return route.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "1" },
      body: JSON.stringify({ type: "about:blank", title: "busy", status: 503, code: "storage_busy" }) });
  });
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  assert.notEqual(broken, null);
  assert.notEqual(await shown(page), broken);
  const state = () => d.sql(`SELECT state || ':' || skipped FROM leases WHERE sample_id = ${broken}`);
  for (let t = 0; t < 50 && state() !== "released:0"; t++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(state(), "released:0");
}));

// The page's DELETEs of leases: the first `drop` of them meet a reset
// connection, the rest go through; `sent` counts them all.
async function dropDeletes(page, drop) {
  const deletes = { sent: 0 };
  await page.route("**/v1/leases/*", (route) => {
    if (route.request().method() !== "DELETE") return route.continue();
    return deletes.sent++ < drop ? route.abort("connectionreset") : route.continue();
  });
  return deletes;
}

// A skip that cannot reach arald is sent again: a lease not given back
// would hold its sample from everyone until it runs out.
test("a skip that meets a dropped connection is sent again", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems, /ERR_CONNECTION_RESET/);
  const deletes = await dropDeletes(page, 1);
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const id = await shown(page);
  await page.keyboard.press("s");
  await page.waitForFunction((x) => document.querySelector("#message").textContent === `Skipped sample ${x}.`, id);
  assert.equal(deletes.sent, 2);
  assert.equal(d.sql(`SELECT state || ':' || skipped FROM leases WHERE sample_id = ${id}`), "released:1");
}));

// A sign-out while arald cannot be reached asks once for each lease and
// does not keep the annotator waiting on retries: the leases run out.
test("a sign-out that cannot reach arald does not retry", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems, /ERR_CONNECTION_RESET/);
  const deletes = await dropDeletes(page, Infinity);
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const held = Number(d.sql("SELECT count(*) FROM leases WHERE state = 'active'"));
  assert.ok(held >= 1, `alice holds ${held} leases`);
  await page.click("#signout");
  await page.waitForSelector("#login", { state: "visible" });
  await new Promise((r) => setTimeout(r, 1500)); // a retry would come after 0.5 s
  assert.equal(deletes.sent, held);
  assert.equal(d.sql("SELECT count(*) FROM leases WHERE state = 'active'"), String(held));
}));

// The tab is closed while its labels cannot reach arald: the first was
// recorded but its reply lost, the second never arrived. The browser's
// next visit sends both again with their keys: each is recorded once.
test("labels unsent when the tab closes are sent on the next visit, each recorded once", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems, /ERR_CONNECTION_(RESET|REFUSED)/);
  const keys = [];
  await page.route("**/v1/labels", async (route) => {
    const n = keys.push(route.request().headers()["idempotency-key"]);
    if (n === 1) await route.fetch();
    return route.abort(n === 1 ? "connectionreset" : "connectionrefused");
  });
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const said = (p, re) => p.waitForFunction((re) => new RegExp(re).test(document.querySelector("#message").textContent), re);
  const a = await shown(page);
  await page.keyboard.press("1");
  await said(page, `^Sample ${a}: .*Sending its label again`);
  const b = await shown(page);
  await page.keyboard.press("2");
  await page.close(); // as a crash would: no prompt, nothing more sent
  assert.equal(d.sql("SELECT group_concat(sample_id) FROM labels"), String(a));

  const next = watch(await ctx.newPage(), "/ again", problems);
  const replayed = [];
  next.on("response", (r) => {
    if (r.url().endsWith("/v1/labels")) replayed.push(r.headers()["idempotent-replayed"] || "no");
  });
  await next.goto(d.base + "/");
  await said(next, `^Labeled sample ${b} as dog, a label left unsent last time`);
  assert.deepEqual(replayed, ["true", "no"]);
  assert.equal(d.sql(`SELECT group_concat(l.sample_id || ':' || c.name) FROM labels l ` +
                     `JOIN classes c ON c.id = l.label ORDER BY l.id`), `${a}:cat,${b}:dog`);
  assert.equal(await next.textContent("#mine"), "2");
  assert.equal(await next.evaluate(() => localStorage.getItem("arald.outbox")), "[]");
}));

// Labels by sample_id left in the outbox (after an undo whose sample
// could not be leased again): the one left an hour ago is sent on the
// next visit; the one left a day ago is not, since arald has forgotten its
// key and would store it a second time if it had arrived; the page says so.
test("a label by sample left unsent over a day ago is not sent again, and the page says so", () => withDaemon([], async (d, problems) => {
  const ctx = await browser.newContext();
  const page = watch(await ctx.newPage(), "/", problems);
  await page.goto(d.base + "/");
  await signIn(page, d);
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  const [a, b] = d.sql("SELECT group_concat(id) FROM (SELECT id FROM samples WHERE split = 'pool' " +
                       "AND label IS NULL AND lease_id IS NULL ORDER BY id LIMIT 2)").split(",").map(Number);
  const entry = (sample, name, hoursAgo) => ({
    key: `${sample}-old-${hoursAgo}`, token: d.tokens.annotate, annotator: "alice", sample, name,
    body: { sample_id: sample, label: name, annotator: "alice" }, at: Date.now() - hoursAgo * 3600 * 1000 });
  await page.evaluate((es) => localStorage.setItem("arald.outbox", JSON.stringify(es)),
                      [entry(a, "cat", 25), entry(b, "dog", 1)]);
  const sent = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/labels")) sent.push(r.headers()["idempotency-key"]);
  });
  await page.reload();
  await page.waitForFunction((re) => new RegExp(re).test(document.querySelector("#message").textContent),
                             `^Labels left unsent over a day ago.*: sample ${a} \\(cat\\)\\. Label again`);
  assert.deepEqual(sent, [`${b}-old-1`]);
  assert.equal(d.sql("SELECT group_concat(l.sample_id || ':' || c.name || ':' || l.annotator) FROM labels l " +
                     "JOIN classes c ON c.id = l.label"), `${b}:dog:alice`);
  assert.equal(await page.evaluate(() => localStorage.getItem("arald.outbox")), "[]");
}));

// Tabs of one browser profile (one playwright context), watched; the
// first signs in, the others find its token (localStorage is the
// profile's).
async function openTabs(d, ctx, n, problems) {
  const tabs = [];
  for (let i = 0; i < n; i++) {
    const p = watch(await ctx.newPage(), `tab ${i}`, problems);
    await p.goto(d.base + "/", { timeout: 10000 });
    if (await p.isVisible("#login")) await signIn(p, d);
    await p.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
    tabs.push(p);
  }
  return tabs;
}

// A browser holds at most 6 connections to a host over HTTP/1.1, and an
// event stream holds one for good: before the tabs shared one stream, a
// seventh tab never loaded. A label given over REST reaches every tab as
// a labels event (the pool line), with no round needed.
test("eight tabs share one event stream, and the next tab takes it when its tab closes", () => withDaemon([], async (d, problems) => {
  const counts = (tab, n) => tab.waitForFunction(
    (n) => document.querySelector("#pool").textContent.startsWith(`${n} of `), n);
  const tabs = await openTabs(d, await browser.newContext(), 8, problems);
  await labelOver(d, 1);
  for (const t of tabs) await counts(t, 1);
  await tabs[0].close(); // the first tab took the stream
  await labelOver(d, 1);
  for (const t of tabs.slice(1)) await counts(t, 2);
  // without Web Locks (plain http to another host), a hidden tab lets
  // its stream go, and takes it back with the current state when shown
  const ctx = await browser.newContext();
  await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
  const setHidden = (tab, hidden) => tab.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { get: () => hidden, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
  const plain = [];
  for (let i = 0; i < 8; i++) {
    plain.push(...await openTabs(d, ctx, 1, problems));
    await setHidden(plain[i], true);
  }
  await labelOver(d, 1);
  await setHidden(plain[3], false);
  await counts(plain[3], 3);
  assert.doesNotMatch(await plain[2].textContent("#pool"), /^3 of /);
}));

test("a round shows on the status line and the dashboard's curve without a reload", () => withDaemon([], async (d, problems) => {
  // before any model, the label-free start orders the pool (default)
  for (let i = 0; i < 200 && (await d.call("GET", "/v1/queue?limit=1")).strategy !== "typical"; i++)
    await new Promise((r) => setTimeout(r, 50));
  const ann = await openPage(d, "/", problems);
  await signIn(ann, d);
  await ann.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  assert.match(await ann.textContent("#why"), /typical: a typical sample of the pool itself/);
  const dash = await openPage(d, "/dashboard", problems);
  const exports = []; // the dashboard counts through /v1/stats, never the export
  dash.on("request", (r) => { if (r.url().includes("/v1/export")) exports.push(r.url()); });
  await signIn(dash, d, "admin");
  await dash.waitForSelector("#curve-svg");
  await ann.waitForFunction(() => /pool's typical samples come first/.test(document.querySelector("#model").textContent));
  await dash.waitForFunction(() => /pool's typical samples come first/.test(document.querySelector("#model").textContent));
  await ann.screenshot({ path: join(SHOTS, "annotator-before-round.png") });
  await dash.screenshot({ path: join(SHOTS, "dashboard-before-round.png"), fullPage: true });
  await axe(dash, "dashboard");
  assert.equal(await dash.locator("#curve-svg circle.point").count(), 0);
  // the curve says what it lacks; the order served is the status line's
  assert.equal(await dash.textContent("#curve-svg > text:last-of-type"), "No round published yet");
  assert.equal(await dash.textContent("#per-class th:nth-child(3)"), "queue pseudo-labels");
  await labelOver(d, 20);
  await ann.waitForFunction(() => /^Model 1, eval accuracy/.test(document.querySelector("#model").textContent),
                            null, { timeout: 60000 });
  // the sample on screen was leased before any model; the model's
  // suggestion for it shows without waiting for the next lease
  await ann.waitForFunction(() => /suggestion.*, model 1/.test(document.querySelector("#why").textContent));
  assert.match(await ann.textContent("#why"), /leased before any model/);
  assert.notEqual(await suggestion(ann), null);
  await dash.waitForFunction(() => document.querySelectorAll("#curve-svg circle.point").length === 1,
                             null, { timeout: 60000 });
  await dash.waitForFunction(() => document.querySelectorAll("#rounds tbody tr").length === 1);
  // 20 labels are far from 30 a class: the round took typical members,
  // in D's features alone after the label-free start
  const cells = await dash.$$eval("#rounds tbody tr td:nth-child(n+3):nth-child(-n+7)",
                                  (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells.slice(0, 4), ["typical-mass", "no", "no", "20"]);
  // the labels its classifier gets wrong, as the round's record has them
  const { classifier, labeled_wrong: wrong } = await d.call("GET", "/v1/rounds/1");
  assert.equal(cells[4], classifier === "last_step"
    ? `${wrong.last_step} (last step; average ${wrong.average})` : `${wrong.average}`);
  await dash.waitForFunction(() => [...document.querySelectorAll("#per-class tbody tr")]
    .reduce((n, tr) => n + Number(tr.cells[1].textContent), 0) === 20);
  await dash.waitForFunction(() => /^queue pseudo-labels \(first \d+\)$/
    .test(document.querySelector("#per-class th:nth-child(3)").textContent));
  await dash.waitForFunction(() => [...document.querySelectorAll("#rate tbody tr")]
    .map((tr) => tr.cells[0].textContent + ":" + tr.cells[1].textContent).join() === "seed:20");
  assert.deepEqual(exports, []);
  await ann.screenshot({ path: join(SHOTS, "annotator-after-round.png") });
  await dash.screenshot({ path: join(SHOTS, "dashboard-after-round.png"), fullPage: true });
  await axe(dash, "dashboard after a round");
  // the rounds table (15 columns) scrolls in its own box: on a 1200 px
  // window the page itself never needs a sideways scroll
  await dash.setViewportSize({ width: 1200, height: 900 });
  assert.ok(await dash.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
            "the dashboard is wider than the window");
}));

test("the sign-in checks a token as it is entered and takes the name from it", () => withDaemon([], async (d, problems) => {
  const page = await openPage(d, "/", problems, /status of 401/); // the refused token
  const bob = (await d.call("POST", "/v1/tokens", { name: "bob", role: "annotate" })).token;
  const invalid = () => page.evaluate(() => document.querySelector("#token").validationMessage);
  await page.fill("#token", "arl_not_a_token");
  await page.press("#token", "Tab");
  await page.waitForFunction(() => document.querySelector("#token").validationMessage !== "");
  assert.equal(await invalid(), "arald does not accept this token.");
  await page.fill("#token", bob);
  await page.press("#token", "Tab");
  // offered, not typed in: the annotator may be typing there already
  await page.waitForFunction(() => document.querySelector("#annotator").placeholder === "bob");
  assert.equal(await page.inputValue("#annotator"), "");
  assert.equal(await invalid(), "");
  await page.keyboard.press("Enter"); // the name left empty: the token's
  await page.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  assert.equal(await page.textContent("#who"), "bob on project");
  const lease = d.sql("SELECT annotator FROM leases ORDER BY id DESC LIMIT 1");
  assert.equal(lease, "bob");
}));

test("an operator makes a token on the dashboard, sees its secret once, and revokes it", () => withDaemon([], async (d, problems) => {
  const dash = await openPage(d, "/dashboard", problems);
  await signIn(dash, d, "admin");
  const rows = () => dash.$$eval("#tokens tbody tr", (trs) => trs.map((tr) =>
    [...tr.cells].slice(1, 3).map((c) => c.textContent).join(":") + (tr.querySelector("button") ? " live" : " revoked")));
  await dash.waitForFunction(() => document.querySelectorAll("#tokens tbody tr").length === 2);
  assert.deepEqual(await rows(), ["annotate:annotate live", "admin:admin live"]);
  // 22 characters of 3 bytes (66) are refused before any request; 21 (63) pass
  await dash.fill("#token-name", "名".repeat(22));
  assert.match(await dash.evaluate(() => document.querySelector("#token-name").validationMessage),
               /At most 63 bytes of UTF-8: this name has 66/);
  await dash.fill("#token-name", "名".repeat(21));
  assert.equal(await dash.evaluate(() => document.querySelector("#token-name").validationMessage), "");
  await dash.fill("#token-name", "carol");
  await dash.selectOption("#token-role", "annotate");
  await dash.click("#new-token button[type=submit]");
  await dash.waitForSelector("#new-secret:not([hidden])");
  const secret = await dash.textContent("#secret");
  assert.match(secret, /^arl_[0-9a-f]{48}$/);
  assert.equal(await dash.textContent("#secret-who"), "carol (annotate)");
  await dash.waitForFunction(() => document.querySelectorAll("#tokens tbody tr").length === 3);
  assert.deepEqual(await rows(), ["annotate:annotate live", "admin:admin live", "carol:annotate live"]);
  await dash.screenshot({ path: join(SHOTS, "dashboard-tokens.png"), fullPage: true });
  await axe(dash, "dashboard with a new token");
  const as = (t) => fetch(d.base + "/v1/project", { headers: { Authorization: `Bearer ${t}` } });
  assert.equal((await as(secret)).status, 200);
  // carol labels with it; once revoked, her page says so within seconds
  const carol = await openPage(d, "/", problems, /status of 401/);
  await carol.fill("#token", secret);
  await carol.press("#token", "Tab");
  await carol.keyboard.press("Enter"); // her name: the token's
  await carol.waitForFunction(() => document.querySelector("#sample")?.naturalWidth === 28);
  // a revoke asks first: dismissed, nothing happens
  dash.once("dialog", (dlg) => dlg.dismiss());
  await dash.click("button[aria-label='Revoke token 3 (carol)']");
  assert.equal((await as(secret)).status, 200);
  // the samples her page held go back to the queue with the revocation
  const held = Number(d.sql("SELECT count(*) FROM leases WHERE annotator = 'carol' AND state = 'active'"));
  assert.ok(held >= 1, `carol holds ${held} leases`);
  dash.once("dialog", (dlg) => dlg.accept());
  await dash.click("button[aria-label='Revoke token 3 (carol)']");
  await dash.waitForFunction(() => /Token 3 \(carol\) is revoked;/.test(document.querySelector("#message").textContent));
  assert.match(await dash.textContent("#message"), new RegExp(`; ${held} samples? it held (is|are) back in the queue`));
  assert.equal(d.sql("SELECT count(*) FROM leases WHERE annotator = 'carol' AND state = 'active'"), "0");
  assert.equal((await as(secret)).status, 401);
  await carol.waitForFunction(() => /token was not accepted/.test(document.querySelector("#live").textContent),
                              null, { timeout: 10000 });
  assert.deepEqual(await rows(), ["annotate:annotate live", "admin:admin live", "carol:annotate revoked"]);
  assert.notEqual(d.sql("SELECT revoked_at FROM tokens WHERE name = 'carol'"), "");
  // the dashboard's own admin token is the last: the API keeps it
  dash.once("dialog", (dlg) => dlg.accept());
  await dash.click("button[aria-label='Revoke token 2 (admin)']");
  await dash.waitForFunction(() => /last live admin token/.test(document.querySelector("#message").textContent));
  assert.equal((await as(d.tokens.admin)).status, 200);
  assert.deepEqual(await rows(), ["annotate:annotate live", "admin:admin live", "carol:annotate revoked"]);
}));
