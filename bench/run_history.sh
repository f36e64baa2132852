#!/usr/bin/env bash
# GET /v1/labels (an annotator's labels, newest first) and GET /v1/export
# on a large label history: N pool samples (random 2x2 images), every one
# labeled, a tenth by "few" and the rest by "many" (written into SQLite
# directly, as N labels over REST would take minutes), then R timed
# requests for each of four history queries and four exports (all labels;
# since=0, every sample; since 100 labels back, a pipeline's sync; since
# the cursor, nothing) against a real arald on 127.0.0.1 (one admin
# token for both). The history
# query scans labels (no index on annotator), so this is the figure to
# watch as they grow.
# Prints a table and one JSON object on its last line (milliseconds).
# Never passes or fails on time.
#   usage: bench/run_history.sh [labels, default 100000] [requests, 20]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
reps=${2:-20}
. bench/lib.sh
bench_daemon_dir
python3 - "$tmp/img.gz" "$n" <<'PY'
import gzip, random, struct, sys
n = int(sys.argv[2])
data = random.Random(1).randbytes(4 * n)
with open(sys.argv[1], "wb") as f:
    f.write(gzip.compress(struct.pack(">IIII", 0x803, n, 2, 2) + data))
PY
"$arald" init --db "$tmp/h.db" --shape 2x2x1 --classes a,b >/dev/null
"$arald" import --db "$tmp/h.db" --idx "$tmp/img.gz" >/dev/null
python3 - "$tmp/h.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("INSERT INTO labels (sample_id, label, annotator, created_at)"
            " SELECT id, id % 2, CASE WHEN id % 10 = 0 THEN 'few'"
            " ELSE 'many' END, id FROM samples")
con.execute("UPDATE samples SET label = id % 2, label_id ="
            " (SELECT id FROM labels WHERE sample_id = samples.id)")
con.commit()
PY
token=$("$arald" token create --db "$tmp/h.db" --role admin --name bench | awk '{print $NF}')
"$arald" serve --db "$tmp/h.db" --port 0 --port-file "$tmp/port" \
  --min-labels 1000000 2>"$tmp/log" & pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
python3 - "http://127.0.0.1:$(cat "$tmp/port")" "$token" "$n" "$reps" <<'PY'
import json, statistics, sys, time, urllib.request
url, token, n, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
queries = {"many_first_page": "labels?annotator=many&limit=50",
           "few_first_page": "labels?annotator=few&limit=50",
           "nobody": "labels?annotator=nobody",
           "many_mid_1000": f"labels?annotator=many&limit=1000&cursor={n // 2}",
           "export_all": "export", "export_since_0": "export?since=0",
           "export_since_100_back": f"export?since={n - 100}",
           "export_since_cursor": f"export?since={n}"}
out = {"labels": n, "requests": reps}
for name, q in queries.items():
    ms = []
    for _ in range(reps):
        req = urllib.request.Request(f"{url}/v1/{q}",
                                     headers={"Authorization": "Bearer " + token})
        t = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            body = r.read()
        ms.append(1000 * (time.perf_counter() - t))
    items = (len(json.loads(body)["items"]) if q.startswith("labels")
             else len(body.splitlines()))
    out[name] = {"median_ms": round(statistics.median(ms), 2),
                 "max_ms": round(max(ms), 2), "items": items}
    print(f"{name:22s} median {out[name]['median_ms']:8.2f} ms  max "
          f"{out[name]['max_ms']:8.2f} ms  items {items}", file=sys.stderr)
print(json.dumps(out))
PY
