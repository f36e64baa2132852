#!/usr/bin/env python3
"""A pipeline against arald, standard library only: copy it and adapt.

    pipeline.py --url http://127.0.0.1:8080 --token TOKEN \\
        --images DIR --labels labels.csv --rounds 2 --batch 20 --out export.jsonl

1. imports every .png of DIR (base64 in JSON batches, external_id = file
   name), each batch under an Idempotency-Key derived from its contents;
2. labels a first batch (labels.csv: file name, class name) and waits for
   the model to finish a round, following /v1/events;
3. then, for each of --rounds rounds, leases --batch samples from the
   newest ranking, labels them (under one Idempotency-Key per batch) and
   waits for the next round;
4. exports the labels as JSON lines to --out, and keeps --out in step on
   later runs: the export's X-Export-Cursor goes to --out.cursor, and the
   next run fetches only what changed since (GET /v1/export?since=).

Every call is retried on 503 (after Retry-After) and on connection errors
with the same Idempotency-Key, so a retry never labels twice.
"""
import argparse
import base64
import csv
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse

RETRIES = 8


class Arald:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token

    def call(self, method, path, body=None, key=None):
        """JSON in and out; retries 503s and dropped connections."""
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        for attempt in range(RETRIES):
            try:
                c = http.client.HTTPConnection(self.host, self.port,
                                               timeout=60)
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                payload = r.read()
                c.close()
            except (ConnectionError, http.client.HTTPException, OSError):
                time.sleep(min(2 ** attempt * 0.1, 5))
                continue
            if r.status == 503:
                time.sleep(float(r.getheader("Retry-After") or 1))
                continue
            if r.status >= 400:
                problem = json.loads(payload)
                raise RuntimeError(f"{method} {path}: {r.status} "
                                   f"{problem['code']}: {problem['detail']}")
            return json.loads(payload) if payload else None
        raise RuntimeError(f"{method} {path}: no answer after {RETRIES} tries")

    def events(self):
        """Yields (event, data) from /v1/events, the current state first."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        c.request("GET", "/v1/events",
                  headers={"Authorization": "Bearer " + self.token})
        r = c.getresponse()
        name = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                yield name, json.loads(line[6:])


def key_of(*parts):
    """An Idempotency-Key that names the batch's contents."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


def import_folder(api, folder, batch=100):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    ids = {}
    for i in range(0, len(names), batch):
        chunk = names[i:i + batch]
        items = [{"external_id": n, "image_base64": base64.b64encode(
            open(os.path.join(folder, n), "rb").read()).decode()}
            for n in chunk]
        out = api.call("POST", "/v1/samples", {"items": items},
                       key=key_of("import", chunk))
        for n, item in zip(chunk, out["items"]):
            ids[n] = item["sample_id"]
    print(f"imported {len(ids)} images", flush=True)
    return ids


def wait_for_model(api, version):
    """Follows /v1/events until model `version` is published."""
    for name, data in api.events():
        if name in ("round_started", "round_finished", "round_failed"):
            print(f"{name}: round {data['round']}, model "
                  f"{data['model_version']}", flush=True)
        if (data["model_version"] or 0) >= version:
            return data
        if name == "round_failed":
            raise RuntimeError("round failed: " + str(data["last_error"]))


def label(api, pairs, tag):
    """pairs: (lease_id or None, sample_id, class) -> label ids."""
    items = [{"lease_id": lid, "label": c} if lid else
             {"sample_id": sid, "label": c} for lid, sid, c in pairs]
    out = api.call("POST", "/v1/labels", {"items": items},
                   key=key_of("labels", tag, items))
    return [i["label_id"] for i in out["items"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--token", default=os.environ.get("ARALD_TOKEN"))
    p.add_argument("--images", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--first", type=int, default=20)
    p.add_argument("--out", default="export.jsonl")
    a = p.parse_args()
    api = Arald(a.url, a.token)
    truth = {row[0]: row[1] for row in csv.reader(open(a.labels))}
    ids = import_folder(api, a.images)
    by_id = {sid: truth[name] for name, sid in ids.items()}
    first = sorted(ids.values())[:a.first]
    label(api, [(None, sid, by_id[sid]) for sid in first], "first")
    model = wait_for_model(api, 1)
    print(f"model {model['model_version']}: eval accuracy "
          f"{model['eval_accuracy']}", flush=True)
    for r in range(1, a.rounds + 1):
        leases = api.call("POST", "/v1/leases",
                          {"annotator": "pipeline", "n": a.batch},
                          key=key_of("lease", model["model_version"], r))
        got = leases["items"]
        label(api, [(i["lease_id"], i["sample_id"], by_id[i["sample_id"]])
                    for i in got], f"round{r}")
        print(f"labeled {len(got)} samples of {got[0]['strategy']} order, "
              f"model {got[0]['model_version']}", flush=True)
        model = wait_for_model(api, model["model_version"] + 1)
    sync_export(api, a.out)
    return 0


def export(api, since=None):
    """The export's lines as {sample_id: line}, and its cursor."""
    c = http.client.HTTPConnection(api.host, api.port, timeout=60)
    query = "" if since is None else f"&since={since}"
    c.request("GET", "/v1/export?format=jsonl" + query,
              headers={"Authorization": "Bearer " + api.token})
    r = c.getresponse()
    body = r.read()  # a cut transfer raises IncompleteRead
    if r.status != 200:
        raise RuntimeError(f"export: {r.status} {body[:200]!r}")
    lines = [json.loads(x) for x in body.splitlines()]
    return {x["sample_id"]: x for x in lines}, int(r.getheader("X-Export-Cursor"))


def sync_export(api, out):
    """Writes every label in force to out. With out and out.cursor from an
    earlier run, reads only what changed since then: a line replaces the
    sample's line, and one with label null (undone) drops it."""
    mark = out + ".cursor"
    if os.path.exists(out) and os.path.exists(mark):
        copy = {x["sample_id"]: x for x in map(json.loads, open(out))}
        changes, cursor = export(api, int(open(mark).read()))
        for sid, line in changes.items():
            if line["label"] is None:
                copy.pop(sid, None)
            else:
                copy[sid] = line
        how = f"{len(changes)} changed since the last run"
    else:
        copy, cursor = export(api)
        how = "all"
    # the new copy, then its cursor: a run cut between the two fetches
    # again from the old cursor, and applying a change twice is harmless
    with open(out + ".tmp", "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in copy.values())
    os.replace(out + ".tmp", out)
    with open(mark + ".tmp", "w") as f:
        f.write(str(cursor))
    os.replace(mark + ".tmp", mark)
    print(f"exported {len(copy)} labels to {out} ({how})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
