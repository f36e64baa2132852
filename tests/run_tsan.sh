#!/usr/bin/env bash
# arald's integration and crash suites against an arald built with
# ThreadSanitizer: the HTTP threads, the worker, the checkpointer and the
# event streams share the lease table, the ranking, the metrics and the
# writer connection. A race makes arald exit non-zero at SIGTERM, which
# fails the test that stopped it, with TSan's report from the daemon's
# log. Not part of deploy/test.sh, whose 10 minutes on 2 cores it would
# overrun: a third build, and rounds 5-10 times slower (hence the longer
# timeouts). Run it after a change to what the threads share.
# test_aral_sim (suite sim) is left out: aral-sim runs one thread.
# Ends with "N passed, M failed".
#   usage: bash tests/run_tsan.sh
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/install.sh test || exit 1
dir=build-tsan
if [ ! -d $dir ]; then
  meson setup $dir -Db_sanitize=thread -Db_lundef=false >/dev/null || exit 1
fi
ninja -C $dir server/arald || exit 1
meson test -C $dir --no-rebuild --print-errorlogs --num-processes 2 \
  --timeout-multiplier 4 --setup tsan --suite integration --suite crash
python3 deploy/summarize.py tsan:$dir/meson-logs/testlog-tsan.json
