#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages a purpose needs and lacks.
#   deploy/install.sh build   compilers and libraries
#   deploy/install.sh test    build + what the tests drive
#   deploy/install.sh run     build + the demo data set
#   deploy/install.sh bench   test + wrk and the PyTorch reference
set -euo pipefail

build=(gcc meson ninja-build pkg-config python3 libmicrohttpd-dev libcjson-dev nettle-dev
       libsqlite3-dev libopenblas-dev libpng-dev libjpeg-dev zlib1g-dev)
want=("${build[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=(python3 python3-pil python3-yaml python3-jsonschema sqlite3 chromium
               clang-format) ;;
  run)   want+=(dataset-fashion-mnist curl) ;;
  bench) want+=(python3 sqlite3 dataset-fashion-mnist wrk curl python3-torch python3-numpy) ;;
  *) echo "usage: $0 build|test|run|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js for the browser tests: Debian's, unless one is installed already
# (Debian's npm conflicts with other builds of nodejs).
if [ "${1:-build}" = test ] && ! command -v node >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
