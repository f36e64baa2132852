"""A revoked token's /v1/events stream: the time from its revocation (the
DELETE /v1/tokens/{id} answer, or `arald token revoke` exiting) to the end
of the stream, N trials each way, against a real arald on 127.0.0.1.
Prints one line a way, then one JSON object (milliseconds). Never passes
or fails on time.
    usage: python3 bench/revoke_latency.py [ARALD, build/server/arald] [N, 20]
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ARALD = sys.argv[1] if len(sys.argv) > 1 else "build/server/arald"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def arald(*args):
    return subprocess.run([ARALD, *args], check=True, capture_output=True,
                          text=True).stdout


def main():
    d = tempfile.mkdtemp()
    db, port_file = os.path.join(d, "t.db"), os.path.join(d, "port")
    arald("init", "--db", db, "--classes", "a,b", "--dim", "4")
    admin = arald("token", "create", "--db", db, "--role", "admin",
                  "--name", "root").split()[-1]
    proc = subprocess.Popen([ARALD, "serve", "--db", db, "--port", "0",
                             "--port-file", port_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (os.path.exists(port_file) and open(port_file).read()):
            time.sleep(0.05)
        port = int(open(port_file).read())

        def call(method, path, body=None, token=admin):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request(method, path, body=json.dumps(body) if body else None,
                      headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            return r.status, r

        while call("GET", "/v1/ready")[0] != 200:
            time.sleep(0.05)
        out = {"trials": N}
        for how in ("rest", "cli"):
            ms = []
            for i in range(N):
                _, r = call("POST", "/v1/tokens",
                            {"name": f"{how}{i}", "role": "annotate"})
                t = json.loads(r.read())
                _, stream = call("GET", "/v1/events", token=t["token"])
                stream.readline()  # the first event: the stream is open
                if how == "rest":
                    call("DELETE", f"/v1/tokens/{t['token_id']}")[1].read()
                else:
                    arald("token", "revoke", "--db", db, "--id",
                          str(t["token_id"]))
                t0 = time.perf_counter()
                stream.read()
                ms.append(1000 * (time.perf_counter() - t0))
            out[how] = {"median_ms": round(statistics.median(ms), 1),
                        "max_ms": round(max(ms), 1)}
            print(f"{how:4s} median {out[how]['median_ms']:7.1f} ms  max "
                  f"{out[how]['max_ms']:7.1f} ms", file=sys.stderr)
        print(json.dumps(out))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
