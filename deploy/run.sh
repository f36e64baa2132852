#!/usr/bin/env bash
# The demo: installs what is missing, builds, creates demo.db from Debian's
# dataset-fashion-mnist (60k train images as the pool, 10k test images with
# their labels as the eval split) unless it exists, then runs arald on
# 127.0.0.1:8080 in the foreground, printing the URL and a new admin token.
# ARALD_DB and ARALD_PORT override the file and the port.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install.sh run

if [ -d build ]; then meson setup --reconfigure build >/dev/null
else meson setup build >/dev/null; fi
ninja -C build >/dev/null

arald=build/server/arald
db=${ARALD_DB:-demo.db}
port=${ARALD_PORT:-8080}
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$db" ]; then
  "$arald" init --db "$db" --name fashion-mnist --shape 28x28x1 \
    --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
  "$arald" import --db "$db" --idx "$data/train-images-idx3-ubyte.gz"
  "$arald" import --db "$db" --idx "$data/t10k-images-idx3-ubyte.gz" \
    --labels "$data/t10k-labels-idx1-ubyte.gz" --split eval
fi
token=$("$arald" token create --db "$db" --role admin --name "demo-$(date +%s)" | awk '{print $NF}')
echo "arald: open http://127.0.0.1:$port/ and sign in with the admin token:"
echo "$token"
echo "arald: give each annotator a token of their own (the dashboard's Tokens, or"
echo "       $arald token create --db $db --role annotate --name NAME); token list shows them"
exec "$arald" serve --db "$db" --port "$port"
