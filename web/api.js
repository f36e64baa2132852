// api.js: what both pages share: calls to the REST API with the token,
// problems turned into sentences, and /v1/events read over fetch (an
// EventSource cannot send the bearer token), reconnecting by itself.

export const store = {
  get token() { return localStorage.getItem("arald.token") || ""; },
  set token(v) { v ? localStorage.setItem("arald.token", v) : localStorage.removeItem("arald.token"); },
};

// Sentences for the problem codes a person can meet on these pages.
const WORDS = {
  unauthorized: "The token was not accepted. Sign out and sign in with a valid token.",
  forbidden: "This token's role may not do that.",
  lease_expired: "Your lease on this sample ran out and someone else took it; it was not labeled by you.",
  unknown_lease: "That lease no longer exists (the server was reset?); moving on.",
  lease_closed: "That lease was already closed.",
  leased_to_other: "Another annotator holds this sample.",
  already_retracted: "That label was already undone.",
  round_running: "A round is running already.",
  storage_busy: "The server is busy; try again in a moment.",
  storage_error: "The server could not write; try again in a moment.",
  no_memory: "The server is short of memory; try again in a moment.",
};

export class ApiError extends Error {
  constructor(status, problem) {
    const code = problem?.code || "http_" + status;
    super(WORDS[code] || problem?.detail || `The server answered ${status}.`);
    this.status = status; this.code = code; this.problem = problem;
  }
}

export async function api(method, path, body, opts = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + store.token,
                 ...(body ? { "Content-Type": "application/json" } : {}),
                 ...(opts.headers || {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, { code: "offline", detail: "The server cannot be reached; is arald running?" });
  }
  if (opts.raw && res.ok) return res;
  const json = (res.headers.get("Content-Type") || "").includes("json")
    ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// An image of a sample as an object URL, decoded before it is returned,
// so showing it later costs nothing.
export async function sampleImage(id) {
  const res = await api("GET", `/v1/samples/${id}/image`, null, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const img = new Image();
  img.src = url;
  await img.decode().catch(() => {});
  return url;
}

// Reads /v1/events: onEvent(name, data) for every event; reconnects
// after a drop (1 s, doubling to 30 s); onState(text) says how it goes;
// onEnd() once it stops for good (a refused token, or the stop function
// it returns was called).
function stream(onEvent, onState, onEnd) {
  let stopped = false, delay = 1000, ctrl = null;
  async function once() {
    ctrl = new AbortController();
    const res = await fetch("/v1/events", {
      headers: { Authorization: "Bearer " + store.token }, signal: ctrl.signal });
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
    onState("live"); delay = 1000;
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) onEvent(name, JSON.parse(data));
      }
    }
  }
  (async () => {
    while (!stopped) {
      try { await once(); } catch (e) {
        if (stopped) break;
        if (e.status === 401 || e.status === 403) { onState(e.message); break; }
      }
      if (stopped) break;
      onState(`reconnecting in ${Math.round(delay / 1000)} s`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
    onEnd();
  })();
  return () => { stopped = true; ctrl?.abort(); };
}

// Follows /v1/events with one stream per browser, shared by its tabs. A
// stream holds its connection for good, and a browser opens at most six
// to one host over HTTP/1.1: a seventh tab of these pages never loaded.
// The tab holding the Web Lock "arald.events" reads the stream and passes
// each event and state on over a BroadcastChannel; a tab that joins asks
// for the latest; when the reading tab closes or signs out, the next in
// line takes the lock and the stream. Web Locks exist in secure contexts
// only (https, localhost): elsewhere each tab reads its own stream while
// it is visible. Returns the function that stops following.
export function follow(onEvent, onState) {
  const ch = new BroadcastChannel("arald.events"), quit = new AbortController();
  let last = null, lastState = null, stop = null, leading = false;
  const event = (name, data) => {
    last = { name, data }; onEvent(name, data);
    if (leading) ch.postMessage({ kind: "event", name, data });
  };
  const state = (text) => {
    lastState = text; onState(text);
    if (leading) ch.postMessage({ kind: "state", text });
  };
  ch.onmessage = ({ data: m }) => {
    if (m.kind === "event") { last = m; onEvent(m.name, m.data); }
    else if (m.kind === "state") { lastState = m.text; onState(m.text); }
    else if (m.kind === "hello" && leading) {
      if (lastState) ch.postMessage({ kind: "state", text: lastState });
      if (last) ch.postMessage({ kind: "event", name: last.name, data: last.data });
    }
  };
  if (navigator.locks) {
    navigator.locks.request("arald.events", { signal: quit.signal }, () => new Promise((done) => {
      leading = true;
      stop = stream(event, state, () => { leading = false; done(); });
    })).catch(() => { /* stopped while waiting in line */ });
    ch.postMessage({ kind: "hello" });
  } else {
    const visible = () => {
      if (document.hidden) { stop?.(); stop = null; }
      else if (!stop && !quit.signal.aborted) stop = stream(event, state, () => {});
    };
    document.addEventListener("visibilitychange", visible);
    quit.signal.addEventListener("abort", () => document.removeEventListener("visibilitychange", visible));
    visible();
  }
  return () => { quit.abort(); stop?.(); ch.close(); };
}

// "3 min", "45 s": an ETA in words.
export function eta(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  return seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.max(1, Math.round(seconds))} s`;
}

// One line of the worker's state (/v1/model), for both pages; before the
// first model its strategy is the order served: the typical start's once
// the worker has computed it, random until then.
export function describeModel(m) {
  if (!m) return "";
  const acc = m.eval_accuracy == null ? "" : `, eval accuracy ${(100 * m.eval_accuracy).toFixed(1)}%`;
  const typical = m.strategy === "typical";
  const model = m.model_version != null ? `Model ${m.model_version}${acc}`
    : typical ? "No model yet: the pool's typical samples come first"
    : "No model yet: the order is random";
  if (m.state === "idle") return model;
  const what = m.state === "training"
    ? `training round ${m.round}: ${m.iteration}/${m.iterations_total}` : `${m.state} round ${m.round}`;
  const left = eta(m.eta_seconds);
  return `${model}; ${what}${left ? `, about ${left} left` : ""}`;
}
