#!/usr/bin/env bash
# HTTP benchmark: wrk against a real arald serving the Fashion-MNIST pool
# (60,000 images) on 127.0.0.1, 32 connections, one wrk thread (wrk needs a
# core of its own on this 2-core machine). Scenarios, in one run:
#   leases       POST /v1/leases, n=1
#   labels       POST /v1/labels by sample id
#   lease_label  lease then label through the lease (half each)
#   queue        GET /v1/queue?limit=10
# Leases live 3 s here so that the pool never runs dry. Prints a table and
# one JSON object on its last line. Never passes or fails on time.
#   usage: bench/run_http.sh [seconds per scenario, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
. bench/lib.sh
bench_daemon_dir
data=/usr/share/datasets/fashion-mnist
"$arald" init --db "$tmp/b.db" --shape 28x28x1 \
  --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" >/dev/null
"$arald" import --db "$tmp/b.db" --idx "$data/train-images-idx3-ubyte.gz" >/dev/null
export ARALD_TOKEN=$("$arald" token create --db "$tmp/b.db" --role admin --name bench | awk '{print $NF}')
export WRK_DIR=$PWD/bench/wrk POOL=60000
"$arald" serve --db "$tmp/b.db" --port 0 --port-file "$tmp/port" --lease-ttl 3 \
  2>"$tmp/log" & pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")
# the label-free start orders the pool on the worker thread (seconds on
# 60k): measure once it is done, as a running service would be
until curl -s -H "Authorization: Bearer $ARALD_TOKEN" "$url/v1/queue?limit=1" |
  grep -q '"strategy":"typical"'; do sleep 0.2; done

results="{}"
for s in leases labels lease_label queue; do
  sleep 3.5  # leases of the previous scenario expire
  line=$(wrk -t1 -c32 -d"${secs}s" --timeout 2s -s "bench/wrk/$s.lua" "$url" | tail -n 1)
  printf '%-12s %s\n' "$s" "$line" >&2
  results=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r[sys.argv[2]]=json.loads(sys.argv[3]); print(json.dumps(r))' "$results" "$s" "$line")
done
# The server's own view of lease latency (histogram buckets, upper bound):
# wrk's figure adds the kernel's queueing and wrk's own share of the CPU.
curl -s -H "Authorization: Bearer $ARALD_TOKEN" "$url/v1/metrics" > "$tmp/metrics"
python3 - "$results" "$tmp/metrics" "$secs" <<'PY'
import json, re, sys
r = json.loads(sys.argv[1])
text = open(sys.argv[2]).read()
b = [(float(le), int(n)) for le, n in re.findall(
    r'arald_http_request_seconds_bucket\{route="leases_post",le="([0-9.e+-]+)"\} (\d+)', text)]
total = b[-1][1] if b else 0
p99 = next((le for le, n in b if total and n >= 0.99 * total), None)
r["server_lease_p99_ms_upper_bound"] = p99 * 1000 if p99 else None
r["connections"], r["seconds_per_scenario"] = 32, int(sys.argv[3])
print(json.dumps(r))
PY
