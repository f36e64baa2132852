// The annotator's page: one sample at a time, by keyboard alone. Leases
// are taken a few ahead with their images decoded, so the next sample is
// on screen the moment a label is given; the label is sent after. The
// leases are kept in localStorage, so a reload keeps them.
import { api, store, sampleImage, follow, describeModel, ApiError } from "/api.js";

const $ = (id) => document.getElementById(id);
const AHEAD = 3; // leases held besides the one on screen
const RETRY_MS = 5000; // with nothing to show, how soon to ask again
const S = { project: null, annotator: localStorage.getItem("arald.annotator") || "",
            current: null, queue: [], last: null, sending: Promise.resolve(),
            refilling: false, stopEvents: null, model: null,
            mine: 0, unsent: 0, retry: null };
const mineKey = (who = S.annotator) => "arald.mine." + who;

function say(text, bad = false) {
  $("message").textContent = text;
  $("message").className = bad ? "bad" : "";
}

// The leases on screen and queued; an undone sample back on screen has none.
const leased = () => [S.current, ...S.queue].filter((x) => x?.lease.lease_id);

function saveLeases() {
  const held = leased().map((x) => x.lease);
  localStorage.setItem("arald.leases", JSON.stringify(held));
}

// ---- the sample on screen and why it was chosen

// The strategy's own measure, where it is not the rank itself.
function scoreWords(l) {
  if (l.score == null || l.strategy !== "entropy") return null;
  return ["entropy", (-l.score).toFixed(3)];
}

function showWhy(l) {
  const cls = S.project.classes;
  const before = l.strategy === "random" ? "random order (leased before any model)"
    : `${l.strategy}: a typical sample of the pool itself (leased before any model)`;
  const rows = [["strategy", l.model_version == null ? before : l.strategy]];
  const sw = scoreWords(l);
  if (sw) rows.push(sw);
  // S(z) only where it orders the pool: the default's S is trained but
  // saturated, and its value would read as a reason it is not
  if (l.sampler != null && /aral$/.test(l.strategy)) rows.push(["S(z)", l.sampler.toFixed(4)]);
  if (l.rank != null) rows.push(["rank in the pool", String(l.rank)]);
  rows.push(["picked by model", l.model_version == null ? "none yet" : String(l.model_version)]);
  if (l.pseudo_label != null)
    rows.push(["suggestion", `${cls[l.pseudo_label].name} (${Math.round(100 * l.confidence)}%)` +
                             (l.suggested_by != null ? `, model ${l.suggested_by}` : "")]);
  rows.push(l.lease_id ? ["lease ends", new Date(l.expires_at).toLocaleTimeString()]
                       : ["lease", "none: your label of it was undone"]);
  $("why").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k; dd.textContent = v;
    return [dt, dd];
  }));
}

function showSuggestion(l) {
  for (const b of $("classes").children)
    b.setAttribute("aria-pressed", String(l != null && Number(b.dataset.index) === l.pseudo_label));
}

function showNext() {
  S.current = S.queue.shift() || null;
  saveLeases();
  if (!S.current) {
    $("sample").removeAttribute("src");
    $("caption").textContent = S.refilling ? "Fetching the next sample…"
                                           : "Nothing to label right now.";
    $("why").replaceChildren();
    showSuggestion(null);
    return;
  }
  const l = S.current.lease;
  $("sample").src = S.current.url;
  $("caption").textContent = `sample ${l.sample_id}` + (l.external_id ? ` (${l.external_id})` : "");
  showWhy(l);
  showSuggestion(l);
}

// ---- keeping leases ahead

async function withImage(lease) {
  return { lease, url: await sampleImage(lease.sample_id) };
}

async function refill() {
  if (S.refilling) return;
  S.refilling = true;
  try {
    for (;;) {
      const need = AHEAD + 1 - S.queue.length - (S.current ? 1 : 0);
      if (need <= 0) break;
      const got = await api("POST", "/v1/leases", { annotator: S.annotator, n: need });
      let failed = null;
      for (const l of got.items) {
        try {
          S.queue.push(await withImage(l));
        } catch (e) { // not shown: handed back unseen, not held till it expires
          failed = e;
          giveBack(l.lease_id, false).catch(() => {});
        }
      }
      if (!S.current) showNext();
      saveLeases();
      if (failed) throw failed;
      if (got.items.length < need) break; // the queue ran dry
    }
  } catch (e) {
    say(e.message, true);
  } finally {
    S.refilling = false;
    if (!S.current) showNext();
  }
  // Nothing on screen (the pool is all leased, or arald is unreachable):
  // ask again in a while rather than wait for a key press that cannot come.
  if (!S.current && !S.retry) S.retry = setTimeout(() => { S.retry = null; refill(); }, RETRY_MS);
}

// A model published after a sample was leased suggests a label for it
// (samples leased before the first model have none): fetch that, rather
// than leave the suggestion to the samples leased after it. The pick's
// own reasons (strategy, rank, model) stay the lease's.
async function freshen(version) {
  for (const x of [S.current, ...S.queue]) {
    if (!x || (x.lease.suggested_by ?? x.lease.model_version ?? -1) >= version) continue;
    try {
      const s = await api("GET", `/v1/samples/${x.lease.sample_id}`);
      if (s.model_version == null) continue;
      x.lease = { ...x.lease, pseudo_label: s.pseudo_label, confidence: s.confidence,
                  suggested_by: s.model_version };
      if (x === S.current) { showWhy(x.lease); showSuggestion(x.lease); }
    } catch { /* labeled or gone meanwhile: nothing to suggest */ }
  }
  saveLeases();
}

// Leases of a previous visit that are still this browser's to use.
async function restoreLeases() {
  let held = [];
  try { held = JSON.parse(localStorage.getItem("arald.leases") || "[]"); } catch { /* none */ }
  for (const l of held) {
    if (Date.parse(l.expires_at) <= Date.now()) continue;
    try {
      const s = await api("GET", `/v1/samples/${l.sample_id}`);
      if (s.state === "leased") S.queue.push(await withImage(l));
    } catch { /* gone: skip it */ }
  }
}

// ---- actions

// A label goes with an Idempotency-Key, and goes again with the same key
// while the server cannot be reached or is busy (a restart, a proxy's
// 502, a reply lost on the way): the label is recorded once, and not lost.
const TRANSIENT = new Set([0, 502, 503, 504]);
const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
                                (b) => b.toString(16).padStart(2, "0")).join("");

// call() again while it fails for a transient reason: after 0.5 s, then
// twice as long each time up to 10 s, `tries` calls in all.
async function retrying(call, { onRetry = () => {}, tries = Infinity } = {}) {
  for (let n = 1, delay = 500; ; n++, delay = Math.min(2 * delay, 10000)) {
    try {
      return await call();
    } catch (e) {
      if (!TRANSIENT.has(e.status) || n >= tries) throw e;
      onRetry(e);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function sendLabel(e, onRetry) {
  const headers = { "Idempotency-Key": e.key, Authorization: "Bearer " + e.token };
  return retrying(() => api("POST", "/v1/labels", e.body, { headers }), { onRetry });
}

// Labels not yet answered stay in localStorage with their key and token
// (a key is the token's), so a tab closed, crashed or reloaded while one
// was on its way loses nothing: the browser's next visit sends it again,
// and a label the server already has comes back as a replay.
const OUTBOX = "arald.outbox";
function outbox() {
  try { return JSON.parse(localStorage.getItem(OUTBOX) || "[]"); } catch { return []; }
}
// A label by sample_id (only after an undo whose sample could not be
// leased again) is safe to send again only while arald keeps its key: it
// forgets keys after 24 h (server/app.c, IDEM_KEEP_MS), and then a label
// that did arrive would be stored a second time. One by lease_id is safe
// at any age: its lease closed with the first. An entry older than this
// (or from a page that did not date its entries) is taken out and said.
const RESEND_BY_SAMPLE_MS = 23 * 3600 * 1000;
const tooOld = (e) => e.body.sample_id !== undefined && !(Date.now() - e.at < RESEND_BY_SAMPLE_MS);

// Takes the entry out; whoever takes it reports it (a tab of the same
// browser may have sent it too), so a label is counted once.
function outboxTake(key) {
  const all = outbox(), rest = all.filter((e) => e.key !== key);
  localStorage.setItem(OUTBOX, JSON.stringify(rest));
  return rest.length < all.length;
}

// The labels a closed tab left unsent, sent again, but for those too old
// to (tooOld), which are said after the others' messages.
function resendOutbox() {
  const old = [];
  for (const e of outbox()) {
    if (!tooOld(e)) deliver(e, true);
    else if (outboxTake(e.key)) old.push(`${e.sample} (${e.name})`);
  }
  if (old.length)
    S.sending = S.sending.then(() => say(`Labels left unsent over a day ago, too long to send again without ` +
      `risking a second copy: sample ${old.join(", ")}. Label again what is still unlabeled.`, true));
}

function countMine(annotator, by) {
  const n = Number(localStorage.getItem(mineKey(annotator)) || 0) + by;
  localStorage.setItem(mineKey(annotator), String(n));
  if (annotator === S.annotator) $("mine").textContent = S.mine = n;
}

function deliver(e, earlier = false) {
  S.unsent++;
  S.sending = S.sending.then(async () => {
    try {
      const out = await sendLabel(e, (err) =>
        say(`Sample ${e.sample}: ${err.message} Sending its label again…`, true));
      if (!outboxTake(e.key)) return;
      S.last = { id: out.items[0].label_id, sample: e.sample, name: e.name };
      countMine(e.annotator, 1);
      showHistory();
      say(`Labeled sample ${e.sample} as ${e.name}` + (earlier ? ", a label left unsent last time." : "."));
    } catch (err) {
      if (outboxTake(e.key)) say(`Sample ${e.sample}: ${err.message}`, true);
    } finally {
      S.unsent--;
    }
  });
}

// Gives a lease back, as a skip or unseen (?reason=return), and again
// while arald cannot be reached (6 tries over about 15 s; one for a
// sign-out, which must not keep the annotator waiting): a lease not
// given back holds its sample from everyone until it runs out. A lease
// closed already (a reply lost after arald closed it) counts as given
// back.
function giveBack(id, skip, once = false) {
  const path = `/v1/leases/${id}` + (skip ? "" : "?reason=return");
  const call = () => api("DELETE", path).catch((e) => {
    if (e.code === "lease_closed") return null;
    throw e;
  });
  return retrying(call, { tries: once ? 1 : 6 });
}

function label(index) {
  const item = S.current;
  if (!item) return;
  const name = S.project.classes[index].name;
  showNext();
  const l = item.lease;
  const body = l.lease_id ? { lease_id: l.lease_id, label: name }
                          : { sample_id: l.sample_id, label: name, annotator: S.annotator };
  const e = { key: newKey(), token: store.token, annotator: S.annotator, sample: l.sample_id, name, body,
              at: Date.now() };
  localStorage.setItem(OUTBOX, JSON.stringify([...outbox(), e]));
  deliver(e);
  refill();
}

// A label not yet sent waits for this browser's next visit, which may
// never come: ask before the tab closes.
window.addEventListener("beforeunload", (e) => {
  if (S.unsent) e.preventDefault();
});

function skip() {
  const item = S.current;
  if (!item) return;
  showNext();
  if (!item.lease.lease_id) say(`Left sample ${item.lease.sample_id} to others.`);
  else giveBack(item.lease.lease_id, true)
    .then(() => say(`Skipped sample ${item.lease.sample_id}.`))
    .catch((e) => say(e.message, true));
  refill();
}

// Undoes the last label (u), or one from the list of the last labels.
async function undo(which = null) {
  await S.sending; // the label to undo may still be on its way
  const last = which || S.last;
  if (!last) { say("Nothing to undo."); return; }
  if (S.last?.id === last.id) S.last = null;
  try {
    // leased back to this annotator with the undo: otherwise the next
    // lease request of anyone would take it first
    const out = await api("POST", `/v1/labels/${last.id}/undo`, { lease: true, annotator: S.annotator });
    countMine(S.annotator, -1);
    // back on screen, to be labeled again (by its id if it has no lease:
    // an earlier label of it is in force)
    const s = await api("GET", `/v1/samples/${last.sample}`);
    const lease = out.lease ? { ...s, ...out.lease } : { ...s, lease_id: null };
    if (S.current) S.queue.unshift(S.current);
    S.queue.unshift({ lease, url: await sampleImage(s.sample_id) });
    showNext();
    say(`Undid the label ${last.name} of sample ${last.sample}: label it again, or skip it.`);
  } catch (e) {
    say(e.message, true);
  }
  showHistory();
}

// ---- the annotator's last labels (GET /v1/labels), each with an undo

const HISTORY = 8;
const H = { busy: false, again: false };

function historyItem(x) {
  const li = document.createElement("li");
  li.append(`sample ${x.sample_id}: ${x.label}`);
  if (x.retracted) li.append(" (undone)");
  else if (!x.in_force) li.append(" (labeled again since)");
  else {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Undo";
    b.setAttribute("aria-label", `undo ${x.label} of sample ${x.sample_id}`);
    b.addEventListener("click", () => undo({ id: x.label_id, sample: x.sample_id, name: x.label }));
    li.append(" ", b);
  }
  return li;
}

// One request at a time; a call meanwhile asks for one more after it.
async function showHistory() {
  if (H.busy) { H.again = true; return; }
  H.busy = true;
  try {
    do {
      H.again = false;
      const who = encodeURIComponent(S.annotator);
      const page = await api("GET", `/v1/labels?annotator=${who}&limit=${HISTORY}`);
      $("history").replaceChildren(...page.items.map(historyItem));
      $("nohistory").hidden = page.items.length > 0;
    } while (H.again);
  } catch { /* a convenience: the next label draws it again */ }
  finally { H.busy = false; }
}

// ---- the page around it

function drawClasses() {
  const keys = [["Enter", "accept the suggestion"],
                ["s", "skip this sample (it does not come back to you)"],
                ["u or Backspace", "undo the last label, and show its sample again"], ["?", "this list"]];
  $("classes").replaceChildren(...S.project.classes.map((c) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.index = c.index;
    b.setAttribute("aria-pressed", "false");
    b.setAttribute("aria-keyshortcuts", c.key);
    b.innerHTML = `<kbd></kbd> `;
    b.firstChild.textContent = c.key;
    b.append(c.name);
    b.addEventListener("click", () => label(c.index));
    keys.unshift([c.key, `label as ${c.name}`]);
    return b;
  }));
  $("keys").replaceChildren(...keys.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.innerHTML = "<kbd></kbd>"; dt.firstChild.textContent = k; dd.textContent = v;
    return [dt, dd];
  }));
}

function showPool(labeled) {
  const total = S.project.counts.pool;
  $("pool").textContent = `${labeled} of ${total} labeled`;
  $("poolbar").max = Math.max(1, total);
  $("poolbar").value = labeled;
}

function showModel(m) {
  if (m.model_version != null && m.model_version !== S.model?.model_version) freshen(m.model_version);
  S.model = m;
  $("model").textContent = describeModel(m);
  const busy = m.state !== "idle" && m.iterations_total > 0;
  $("progress").hidden = !busy;
  if (busy) { $("progress").max = m.iterations_total; $("progress").value = m.iteration; }
  showPool(m.labeled);
}

document.addEventListener("keydown", (e) => {
  if (!S.project || $("work").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  if ($("help").open || e.target.tagName === "INPUT") return;
  const c = S.project.classes.find((k) => k.key === e.key);
  let done = true;
  if (c) label(c.index);
  else if (e.key === "Enter") {
    const p = S.current?.lease.pseudo_label;
    if (p != null) label(p); else say("No suggestion yet: press a class key.");
  } else if (e.key === "s") skip();
  else if (e.key === "u" || e.key === "Backspace") undo();
  else if (e.key === "?") $("help").showModal();
  else done = false;
  if (done) e.preventDefault();
});

async function start() {
  S.project = await api("GET", "/v1/project");
  $("login").hidden = true;
  $("work").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = `${S.annotator} on ${S.project.name}`;
  S.mine = Number(localStorage.getItem(mineKey()) || 0);
  $("mine").textContent = S.mine;
  drawClasses();
  showPool(S.project.counts.labeled);
  resendOutbox();
  showHistory();
  await restoreLeases();
  showNext();
  await refill();
  S.stopEvents = follow((name, data) => showModel(data),
                        (state) => { $("live").textContent = state === "live" ? "" : `(events: ${state})`; });
}

async function signOut() {
  if (S.unsent) say(`Sending ${S.unsent} label(s) before signing out…`);
  await S.sending;
  S.stopEvents?.();
  const held = leased();
  // handed back unseen: they may come back to this annotator later
  await Promise.allSettled(held.map((x) => giveBack(x.lease.lease_id, false, true)));
  S.current = null; S.queue = [];
  localStorage.removeItem("arald.leases");
  store.token = "";
  location.reload();
}

$("signout").addEventListener("click", () => { signOut(); });

// arald takes names of at most 63 bytes of UTF-8; say so before signing
// in, not in an error after it (maxlength would count characters)
$("annotator").addEventListener("input", (e) => {
  const n = new TextEncoder().encode(e.target.value.trim()).length;
  e.target.setCustomValidity(n > 63 ? `At most 63 bytes of UTF-8: this name has ${n}.` : "");
});

// A token is checked as soon as it is entered (GET /v1/me): a refused one
// says so before the annotator starts, and the name field offers the
// token's own name (a personal token names its annotator) as its
// placeholder, which a name left empty takes. Not as its value: the
// answer may come while the annotator types there.
$("token").addEventListener("change", async (e) => {
  const field = e.target;
  field.setCustomValidity("");
  $("annotator").placeholder = "";
  let res;
  try {
    res = await fetch("/v1/me", { headers: { Authorization: "Bearer " + field.value.trim() } });
  } catch { return; } // unreachable: signing in will say so
  if (res.status === 401) {
    field.setCustomValidity("arald does not accept this token.");
    field.reportValidity();
  } else if (res.ok) {
    $("annotator").placeholder = (await res.json()).name;
  }
});

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  store.token = $("token").value.trim();
  const named = async () => $("annotator").value.trim() || (await api("GET", "/v1/me")).name;
  named().then((who) => {
    S.annotator = who;
    localStorage.setItem("arald.annotator", S.annotator);
    return start();
  }).catch((err) => { say(err.message, true); $("login").hidden = false; });
});

function askToken(why) {
  $("login").hidden = false;
  $("annotator").value = S.annotator;
  $("model").textContent = "Signed out.";
  if (why) say(why, true);
}

if (store.token && S.annotator) {
  start().catch((err) => askToken(err instanceof ApiError ? err.message : String(err)));
} else {
  askToken();
}
