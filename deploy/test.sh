#!/usr/bin/env bash
# Runs every test: a normal build, then an ASan+UBSan build of the same
# suites. Prints "N passed, M failed" (test cases) last; non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/install.sh test || exit 1
# playwright-core for the browser tests, pinned by package-lock.json; it
# never downloads a browser (Debian's /usr/bin/chromium is used).
npm ci --no-audit --no-fund --loglevel=error || exit 1

run_suites() { # build-dir [meson setup options...]
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null || return 1
  else
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" || return 1
  meson test -C "$dir" --print-errorlogs --num-processes 2 \
    ${SETUP:+--setup "$SETUP"} || true
}

run_suites build
SETUP=asan run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false
python3 deploy/summarize.py build/meson-logs/testlog.json \
  asan:build-asan/meson-logs/testlog-asan.json
