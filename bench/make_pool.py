"""Writes an IDX file of N 28x28 images for the benchmarks at scale: the
Fashion-MNIST training images, repeated, each copy past the first with
20 pixels moved by one grey level, so that no image is a duplicate.
  usage: /usr/bin/python3 bench/make_pool.py N OUT"""
import gzip
import sys

import numpy as np

SRC = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
n, out = int(sys.argv[1]), sys.argv[2]
base = np.frombuffer(gzip.open(SRC).read()[16:], np.uint8).reshape(-1, 784)
rng = np.random.default_rng(0)
x = np.resize(base, (n, 784)).astype(np.int16)
rows = np.repeat(np.arange(len(base), n), 20)
cols = rng.integers(0, 784, rows.size)
x[rows, cols] += rng.choice(np.array([-1, 1], np.int16), rows.size)
with open(out, "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes())
    f.write(np.clip(x, 0, 255).astype(np.uint8).tobytes())
