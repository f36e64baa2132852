#!/usr/bin/env bash
# The reads that the operator's dashboard and a pipeline make, on a large
# pool: N images (bench/make_pool.py), 500 of them labeled over REST and
# 50 leased, then R timed requests each against a real arald on
# 127.0.0.1 (no round runs: min_labels is above the labels). The
# dashboard reads /v1/stats on every labels event, up to four times a
# second, so its cost is the figure to watch as the pool grows.
# Prints a table and one JSON object on its last line (milliseconds).
# Never passes or fails on time.
#   usage: bench/run_pool_reads.sh [pool size, default 1000000] [requests, 7]
set -euo pipefail
cd "$(dirname "$0")/.."
pool=${1:-1000000}
reps=${2:-7}
. bench/lib.sh
bench_daemon_dir
"$arald" init --db "$tmp/p.db" --shape 28x28x1 \
  --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" >/dev/null
/usr/bin/python3 bench/make_pool.py "$pool" "$tmp/pool.idx"
"$arald" import --db "$tmp/p.db" --idx "$tmp/pool.idx" >/dev/null
rm "$tmp/pool.idx"
token=$("$arald" token create --db "$tmp/p.db" --role admin --name bench | awk '{print $NF}')
"$arald" serve --db "$tmp/p.db" --port 0 --port-file "$tmp/port" \
  --start-strategy random --min-labels 1000000 2>"$tmp/log" & pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
python3 - "http://127.0.0.1:$(cat "$tmp/port")" "$token" "$pool" "$reps" <<'PY'
import json, random, statistics, sys, time, urllib.request
url, token, pool, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"]

def call(path, body=None):
    req = urllib.request.Request(
        url + path, json.dumps(body).encode() if body is not None else None,
        {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        data = r.read()
    return 1000 * (time.perf_counter() - t), data

ids = random.Random(0).sample(range(1, pool + 1), 500)
for at in range(0, 500, 100):
    call("/v1/labels", {"items": [{"sample_id": i, "label": names[i % 10]}
                                  for i in ids[at:at + 100]]})
call("/v1/leases", {"annotator": "bench", "n": 50})
queries = {"stats": "/v1/stats", "export": "/v1/export",
           "queue_1000": "/v1/queue?limit=1000",
           "samples_page": "/v1/samples?limit=100",
           "samples_labeled_page": "/v1/samples?state=labeled&limit=100",
           "samples_leased_page": "/v1/samples?state=leased&limit=100",
           "project": "/v1/project"}
out = {"pool": pool, "labels": 500, "requests": reps}
for name, q in queries.items():
    ms = [call(q)[0] for _ in range(reps)]
    out[name] = {"median_ms": round(statistics.median(ms), 2),
                 "max_ms": round(max(ms), 2)}
    print(f"{name:22s} median {out[name]['median_ms']:8.2f} ms  max "
          f"{out[name]['max_ms']:8.2f} ms", file=sys.stderr)
print(json.dumps(out))
PY
