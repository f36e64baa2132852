"""Test harness: a real arald on a free port over a temporary SQLite file,
driven over real HTTP. Each test file is a table of cases; run() prints a
line per case and the closing "N passed, M failed" line."""
import gzip
import hashlib
import http.client
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

import contract

ARALD = os.environ.get("ARALD", os.path.join(os.path.dirname(__file__),
                                             "../../build/server/arald"))
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Ankle boot"]


def arald(*args, check=True):
    """Runs an arald command; returns (exit code, stdout, stderr)."""
    p = subprocess.run([ARALD, *args], capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"arald {' '.join(args)}: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


class Daemon:
    """init + tokens + serve. Tokens: admin, annotate, ingest."""

    def __init__(self, shape="28x28x1", classes=FASHION, dim=None,
                 serve_args=(), db=None, env=None):
        self.dir = tempfile.mkdtemp(prefix="arald-test-")
        self.db = db or os.path.join(self.dir, "t.db")
        self.serve_args = list(serve_args)
        self.env = dict(os.environ, **(env or {}))
        if not os.path.exists(self.db):
            size = ["--dim", str(dim)] if dim else ["--shape", shape]
            arald("init", "--db", self.db, "--classes", ",".join(classes),
                  *size)
        self.tokens = {r: self.new_token(r) for r in
                       ("admin", "annotate", "ingest")}
        self.proc = None
        self.start()

    def new_token(self, role, name=None):
        out = arald("token", "create", "--db", self.db, "--role", role,
                    "--name", name or role)[1]
        return out.split()[-1]

    def start(self):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(os.path.join(self.dir, "arald.log"), "ab")
        self.proc = subprocess.Popen(
            [ARALD, "serve", "--db", self.db, "--port", "0", "--port-file",
             port_file, *self.serve_args], stdout=self.log, stderr=self.log,
            env=self.env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("arald exited: " + self.read_log())
            if os.path.exists(port_file):
                self.port = int(open(port_file).read())
                if self.get("/v1/ready").status == 200:
                    return
            time.sleep(0.02)
        raise AssertionError("arald did not become ready")

    def read_log(self):
        return open(os.path.join(self.dir, "arald.log")).read()

    def request(self, method, path, body=None, token="admin", headers=None,
                raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + self.tokens.get(token, token)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        out = Response(r.status, {k.lower(): v for k, v in r.getheaders()},
                       r.read())
        conn.close()
        # Every response is held to docs/openapi.yaml (contract.py).
        contract.check(method, path, out.status,
                       out.header("content-type"), out.body)
        return out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    # "with Daemon(...) as d:" stops it however the block ends.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("arald did not stop on SIGTERM")
            # Under ASan a leak or an error at exit shows only here.
            if self.proc.returncode != 0:
                raise AssertionError(f"arald exited {self.proc.returncode} "
                                     f"on SIGTERM: {self.read_log()[-3000:]}")
        return self.proc.returncode


def events_stream(d, token):
    """A /v1/events stream of this token, read past its first event; its
    read() returns when the stream ends (10 s timeout)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    conn.request("GET", "/v1/events",
                 headers={"Authorization": "Bearer " + token})
    r = conn.getresponse()
    assert r.status == 200 and r.readline().startswith(b"event: state")
    return r


def in_threads(fn, n):
    """Runs fn(0..n-1) on n threads; re-raises the first exception."""
    import threading
    errors = []

    def wrap(k):
        try:
            fn(k)
        except Exception as e:  # handed to the main thread
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def vectors(n, dim, seed=1):
    """n distinct vectors as JSON items."""
    import random
    r = random.Random(seed)
    return [{"vector": [r.random() for _ in range(dim)],
             "external_id": f"v{seed}-{i}"} for i in range(n)]


def idx_bytes(images=None, labels=None, gz=True):
    """IDX images (list of 2-D uint8 lists as bytes rows) or labels."""
    if images is not None:
        n, rows, cols = len(images), 28, 28
        raw = struct.pack(">IIII", 0x803, n, rows, cols) + b"".join(images)
    else:
        raw = struct.pack(">II", 0x801, len(labels)) + bytes(labels)
    return gzip.compress(raw) if gz else raw


def image_bytes(i):
    """A distinct 28x28 grayscale image as raw bytes."""
    return bytes(((i * 7 + k * 13) ^ (i >> 3)) & 0xff for k in range(784))


def png_bytes(w, h, pixels, channels=1):
    """A minimal PNG encoder (stdlib only): 8-bit gray or RGB."""
    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    color = 0 if channels == 1 else 2
    rows = b"".join(b"\x00" + pixels[y * w * channels:(y + 1) * w * channels]
                    for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def db_digest(path):
    """A hash of every row of every table: equal digests, equal data."""
    con = sqlite3.connect(path)
    h = hashlib.sha256()
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE "
                               "type='table' ORDER BY name"):
        for row in con.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
            h.update(repr(row).encode())
    con.close()
    return h.hexdigest()


def integrity(path):
    con = sqlite3.connect(path)
    r = con.execute("PRAGMA integrity_check").fetchall()
    con.close()
    return r


def is_problem(r, status, code):
    """The response is a problem+json with this status and code."""
    assert r.status == status, f"status {r.status}, want {status}: {r.body!r}"
    assert r.header("content-type") == "application/problem+json", \
        r.header("content-type")
    p = r.json
    assert p["status"] == status and p["code"] == code, p
    assert p["instance"] == r.header("x-request-id"), p
    for k in ("type", "title", "detail", "errors"):
        assert k in p, k
    return p


def run(cases):
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    passed = failed = 0
    # a test_ function left out of the list would never run: one failure
    defined = {name for name, fn in vars(sys.modules["__main__"]).items()
               if name.startswith("test_") and callable(fn)}
    left = sorted(defined - {fn.__name__ for fn in cases})
    if left:
        print("FAIL not in run([...]):", ", ".join(left))
        failed += 1
    for fn in cases:
        name = fn.__name__.replace("_", " ")
        if only and only not in name:
            continue
        t0 = time.monotonic()  # the suite has a time limit: show each cost
        try:
            fn()
            print("ok  ", name, f"({time.monotonic() - t0:.1f} s)")
            passed += 1
        except Exception:
            print("FAIL", name, f"({time.monotonic() - t0:.1f} s)")
            traceback.print_exc()
            failed += 1
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
