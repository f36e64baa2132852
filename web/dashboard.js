// The operator's dashboard: the learning curve (one point per round, SVG
// drawn here), labels per class beside the queue's pseudo-labels, labels
// per annotator per hour, the rounds, the head of the queue, the retrain
// state live from /v1/events, a retrain button, the exports, and the
// tokens (made here, each secret shown once, and revoked).
import { api, store, sampleImage, follow, describeModel } from "/api.js";

const $ = (id) => document.getElementById(id);
let project = null, lastRounds = -1, refreshing = false;

function say(text, bad = false) {
  $("message").textContent = text;
  $("message").className = bad ? "bad" : "";
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function table(id, head, rows) {
  const t = $(id);
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", h, { scope: "col" })));
  t.replaceChildren(el("thead"), el("tbody"));
  t.tHead.append(tr);
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c) => row.append(el("td", c)));
    t.tBodies[0].append(row);
  }
}

// Every item of a list, page by page (path ends in "?limit=N").
async function allPages(path) {
  const out = [];
  let cursor = null;
  do {
    const page = await api("GET", path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

const allRounds = async () => (await allPages("/v1/rounds?limit=100")).reverse(); // oldest first

// ---- the learning curve, as SVG

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function drawCurve(rounds) {
  const pts = rounds.filter((r) => r.status === "published" && r.eval_accuracy != null)
                    .map((r) => [r.labels_used, r.eval_accuracy, r.round]);
  const W = 420, H = 240, L = 44, B = 30, T = 10, R = 12;
  const box = svg("svg", { width: W, height: H, role: "img", id: "curve-svg",
                           "aria-label": `eval accuracy of ${pts.length} rounds against labels` });
  box.append(svg("title", {}, "Learning curve"));
  const maxX = Math.max(1, ...pts.map((p) => p[0]));
  const x = (v) => L + (W - L - R) * v / maxX, y = (v) => T + (H - T - B) * (1 - v);
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    box.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#ddd" }));
    box.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, `${v * 100}%`));
  }
  box.append(svg("text", { x: (L + W) / 2, y: H - 6, "text-anchor": "middle" }, "labels"));
  box.append(svg("text", { x: W - R, y: H - B + 14, "text-anchor": "end" }, String(maxX)));
  box.append(svg("text", { x: L, y: H - B + 14, "text-anchor": "start" }, "0"));
  if (pts.length) {
    box.append(svg("polyline", { points: pts.map((p) => `${x(p[0])},${y(p[1])}`).join(" "),
                                 fill: "none", stroke: "#0b57d0", "stroke-width": 2 }));
    for (const p of pts) {
      const c = svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 4, fill: "#0b57d0", class: "point" });
      c.append(svg("title", {}, `round ${p[2]}: ${p[0]} labels, ${(100 * p[1]).toFixed(1)}%`));
      box.append(c);
    }
  } else { // the order served meanwhile is the status line's to say
    box.append(svg("text", { x: (L + W) / 2, y: H / 2, "text-anchor": "middle" },
                   "No round published yet"));
  }
  $("curve").replaceChildren(box);
}

function drawRounds(rounds) {
  const f = (v, d = 2) => (v == null ? "—" : Number(v).toFixed(d));
  // uncertain first: whether the round's order put the model's least sure
  // samples first (typical-mass does from 30 labels a class on); joined
  // components: whether it clustered D's features joined with the pool's
  // whitened components (typical-mass does after a random start); labels
  // wrong: how many of its labels the kept classifier gets wrong, and
  // when the round kept D's last step over its average, the average's
  const yesNo = (v) => (v == null ? "—" : v ? "yes" : "no");
  const wrong = (r) => (r.labeled_wrong == null ? "—" : r.classifier === "last_step"
    ? `${r.labeled_wrong.last_step} (last step; average ${r.labeled_wrong.average})`
    : String(r.labeled_wrong.average));
  table("rounds", ["round", "status", "strategy", "uncertain first", "joined components", "labels",
                   "labels wrong", "iterations", "read s", "train s", "score s", "store s", "loss D",
                   "loss class", "eval acc"],
        rounds.slice().reverse().map((r) => [r.round, r.status + (r.reason ? `: ${r.reason}` : ""),
          r.strategy, yesNo(r.uncertain_first), yesNo(r.joined_components), r.labels_used, wrong(r),
          r.iterations,
          f(r.seconds.read), f(r.seconds.train), f(r.seconds.score), f(r.seconds.store),
          f(r.losses?.d, 3), f(r.losses?.d_class, 3),
          r.eval_accuracy == null ? "—" : `${(100 * r.eval_accuracy).toFixed(1)}%`]));
}

// ---- labels: per class (beside the queue's pseudo-labels), per annotator

// Counted by the server (/v1/stats): this draws on every labels event,
// up to four times a second, and reading the whole export each time cost
// 9 MB a refresh at 60k labels.
async function drawLabels() {
  const [stats, queue] = await Promise.all([api("GET", "/v1/stats"), api("GET", "/v1/queue?limit=1000")]);
  const pseudo = project.classes.map(() => 0);
  let scored = 0;
  queue.items.forEach((q) => { if (q.pseudo_label != null) { pseudo[q.pseudo_label]++; scored++; } });
  table("per-class", ["class", "labels",
                      scored ? `queue pseudo-labels (first ${scored})` : "queue pseudo-labels"],
        stats.classes.map((c, i) => [c.class, c.labels,
          scored ? `${pseudo[i]} (${Math.round(100 * pseudo[i] / scored)}%)` : "—"]));
  table("rate", ["annotator", "labels", "per hour"], stats.annotators.map((a) => {
    const hours = (Date.parse(a.last_at) - Date.parse(a.first_at)) / 3600e3;
    return [a.annotator, a.labels, (a.labels / Math.max(1 / 60, hours)).toFixed(0)];
  }));
  return queue;
}

async function drawQueue(queue) {
  const head = queue.items.slice(0, 12);
  const figs = await Promise.all(head.map(async (q) => {
    const f = el("figure");
    const img = el("img", null, { alt: `sample ${q.sample_id}`, width: 84, height: 84 });
    if (project.input.kind === "image") img.src = await sampleImage(q.sample_id);
    const cap = q.rank == null ? "random" : `#${q.rank}` +
      (q.pseudo_label != null ? ` ${project.classes[q.pseudo_label].name}` : "");
    f.append(img, el("figcaption", `${q.sample_id}: ${cap}`));
    return f;
  }));
  $("queue").replaceChildren(...figs);
}

// ---- tokens: listed, made (the secret shown once) and revoked

async function drawTokens() {
  const tokens = await allPages("/v1/tokens?limit=1000");
  table("tokens", ["id", "name", "role", "created (UTC)", "revoked (UTC)", ""],
        tokens.map((t) => [t.token_id, t.name, t.role, t.created_at.slice(0, 16).replace("T", " "),
                           t.revoked_at ? t.revoked_at.slice(0, 16).replace("T", " ") : "—", ""]));
  [...$("tokens").tBodies[0].rows].forEach((row, i) => {
    const t = tokens[i];
    if (t.revoked_at) return;
    const b = el("button", "Revoke", { type: "button", "aria-label": `Revoke token ${t.token_id} (${t.name})` });
    b.addEventListener("click", () => revoke(t));
    row.cells[5].append(b);
  });
}

async function revoke(t) {
  if (!confirm(`Revoke token ${t.token_id} (${t.role}, ${t.name})? It stops working at once.`)) return;
  try {
    const r = await api("DELETE", `/v1/tokens/${t.token_id}`);
    const n = r.leases_released;
    say(`Token ${t.token_id} (${t.name}) is revoked; ${n} sample${n === 1 ? "" : "s"} it held ${n === 1 ? "is" : "are"} back in the queue.`);
  } catch (e) { say(e.message, true); }
  await drawTokens().catch((e) => say(e.message, true));
}

// arald takes names of at most 63 bytes of UTF-8 (maxlength counts
// characters): the field says so before the request, as the annotator
// page's name field does
$("token-name").addEventListener("input", (e) => {
  const n = new TextEncoder().encode(e.target.value.trim()).length;
  e.target.setCustomValidity(n > 63 ? `At most 63 bytes of UTF-8: this name has ${n}.` : "");
});

$("new-token").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const t = await api("POST", "/v1/tokens", { name: $("token-name").value.trim(), role: $("token-role").value });
    $("secret-who").textContent = `${t.name} (${t.role})`;
    $("secret").textContent = t.token;
    $("new-secret").hidden = false;
    $("token-name").value = "";
    say("");
    await drawTokens();
  } catch (err) { say(err.message, true); }
});

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const rounds = await allRounds();
    lastRounds = rounds.length;
    drawCurve(rounds);
    drawRounds(rounds);
    await drawQueue(await drawLabels());
  } catch (e) {
    say(e.message, true);
  } finally {
    refreshing = false;
  }
}

function showModel(name, m) {
  $("model").textContent = describeModel(m) + (m.last_error ? ` (last failure: ${m.last_error})` : "");
  const busy = m.state !== "idle" && m.iterations_total > 0;
  $("progress").hidden = !busy;
  if (busy) { $("progress").max = m.iterations_total; $("progress").value = m.iteration; }
  $("retrain").disabled = busy;
  if (name === "round_finished" || name === "round_failed" || (name === "labels" && !refreshing))
    refresh();
}

async function download(format) {
  try {
    const res = await api("GET", `/v1/export?format=${format}`, null, { raw: true });
    const a = el("a", null, { href: URL.createObjectURL(await res.blob()),
                              download: `labels.${format}` });
    document.body.append(a); a.click(); a.remove();
  } catch (e) { say(e.message, true); }
}

async function start() {
  project = await api("GET", "/v1/project");
  await api("GET", "/v1/metrics", null, { raw: true }); // an admin token, or a clear 403
  $("login").hidden = true; $("board").hidden = false; $("signout").hidden = false;
  $("who").textContent = project.name;
  await refresh();
  await drawTokens();
  follow(showModel, (s) => { $("live").textContent = s === "live" ? "" : `(events: ${s})`; });
}

$("retrain").addEventListener("click", async () => {
  try { await api("POST", "/v1/model/retrain"); say("A round was requested."); }
  catch (e) { say(e.message, true); }
});
$("export-jsonl").addEventListener("click", () => download("jsonl"));
$("export-csv").addEventListener("click", () => download("csv"));
$("signout").addEventListener("click", () => { store.token = ""; location.reload(); });
$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  store.token = $("token").value.trim();
  start().catch((err) => { say(err.message, true); $("login").hidden = false; });
});

if (store.token) start().catch((err) => { say(err.message, true); $("login").hidden = false; });
else { $("login").hidden = false; $("model").textContent = "Signed out."; }
