// A minimal annotator page over the REST API: lease one sample, show it,
// label it with a key, skip or undo. The full page comes in its own issue.
"use strict";

const state = { token: localStorage.getItem("arald.token") || "",
                annotator: localStorage.getItem("arald.annotator") || "",
                project: null, lease: null, lastLabel: null };

const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + state.token,
               "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined });
  const data = res.headers.get("Content-Type")?.includes("json")
    ? await res.json() : null;
  if (!res.ok) throw new Error(data?.detail || res.statusText);
  return data;
}

function say(text) { $("message").textContent = text; }

async function next() {
  const got = await api("POST", "/v1/leases", { annotator: state.annotator, n: 1 });
  state.lease = got.items[0] || null;
  if (!state.lease) { $("sample").removeAttribute("src"); say("Nothing left to label."); return; }
  const img = await fetch(`/v1/samples/${state.lease.sample_id}/image`,
                          { headers: { "Authorization": "Bearer " + state.token } });
  $("sample").src = URL.createObjectURL(await img.blob());
  $("caption").textContent = `sample ${state.lease.sample_id}`;
}

async function label(name) {
  if (!state.lease) return;
  const out = await api("POST", "/v1/labels", { lease_id: state.lease.lease_id, label: name });
  state.lastLabel = out.items[0].label_id;
  say(`Labeled ${state.lease.sample_id} as ${name}.`);
  await next();
}

async function skip() {
  if (!state.lease) return;
  await api("DELETE", `/v1/leases/${state.lease.lease_id}`);
  await next();
}

async function undo() {
  if (!state.lastLabel) return;
  await api("POST", `/v1/labels/${state.lastLabel}/undo`);
  say("Undone."); state.lastLabel = null;
}

function drawClasses() {
  const box = $("classes");
  box.replaceChildren(...state.project.classes.map((c) => {
    const b = document.createElement("button");
    b.textContent = `${c.key}: ${c.name}`;
    b.addEventListener("click", () => label(c.name).catch((e) => say(e.message)));
    return b;
  }));
}

async function start() {
  state.project = await api("GET", "/v1/project");
  $("login").hidden = true; $("work").hidden = false;
  $("status").textContent = `${state.annotator} on ${state.project.name}`;
  drawClasses();
  await next();
}

document.addEventListener("keydown", (e) => {
  if (!state.project || e.target.tagName === "INPUT") return;
  const c = state.project.classes.find((k) => k.key === e.key);
  const run = c ? label(c.name) : e.key === "s" ? skip() : e.key === "u" ? undo() : null;
  run?.catch((err) => say(err.message));
});

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value.trim();
  state.annotator = $("annotator").value.trim() || "annotator";
  localStorage.setItem("arald.token", state.token);
  localStorage.setItem("arald.annotator", state.annotator);
  start().catch((err) => { say(err.message); $("login").hidden = false; });
});

if (state.token) start().catch(() => { $("login").hidden = false; });
else $("login").hidden = false;
