# What every bench/run_*.sh does first, sourced from the project root.
# bench_build installs what the benchmarks need (deploy/install.sh bench)
# and builds. bench_daemon_dir does that too, and sets arald (the daemon
# just built) and tmp (a new directory), both removed at exit together
# with the arald the script started as $pid.
bench_build() {
  deploy/install.sh bench >/dev/null
  [ -d build ] || meson setup build >/dev/null
  ninja -C build >/dev/null
}

bench_daemon_dir() {
  bench_build
  arald=$PWD/build/server/arald
  tmp=$(mktemp -d)
  pid=
  trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
}
