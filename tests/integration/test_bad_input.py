"""Bad input gets a 4xx problem+json with a stable code and changes
nothing: the database digest before and after every case is the same."""
import base64
import http.client
import json
import random
import re
import socket

from harness import (Daemon, db_digest, idx_bytes, image_bytes, is_problem,
                     png_bytes, run)

D = None


def setup():
    global D
    D = Daemon(serve_args=["--max-body", "65536", "--max-batch", "50",
                           "--access-log"])
    r = D.request("POST", "/v1/samples", token="ingest",
                  raw=idx_bytes([image_bytes(i) for i in range(20)]),
                  headers={"Content-Type": "application/x-idx"})
    assert r.status == 200, r.body
    lease = D.post("/v1/leases", {"annotator": "a", "n": 1}).json["items"][0]
    D.post("/v1/labels", {"lease_id": lease["lease_id"], "label": "Bag"})


def unchanged(fn):
    """Runs a case and checks that the database did not change."""
    def case():
        before = db_digest(D.db)
        fn()
        assert db_digest(D.db) == before, "the database changed"
    case.__name__ = fn.__name__
    return case


def raw_post(path, data, ctype="application/json"):
    return D.request("POST", path, raw=data, headers={"Content-Type": ctype})


@unchanged
def test_malformed_json():
    for path in ("/v1/labels", "/v1/leases", "/v1/samples", "/v1/tokens"):
        for body in (b"{", b"{\"n\": 1} trailing", b"", b"[1,2]", b"null",
                     b"{\"n\":1,\"n\":2}", b"{\"annotator\":\"\xff\xfe\"}",
                     b"\x00{}"):
            r = raw_post(path, body)
            p = is_problem(r, 400, "bad_json")
            assert p["detail"], p


@unchanged
def test_nul_escape_in_a_string():
    # \u0000 decodes to a NUL that would end the C string early: "Bag\u0000x"
    # must not become the label "Bag", nor "a\u0000b" the annotator "a".
    free = D.get("/v1/samples?state=unlabeled&limit=1").json["items"][0]
    for path, body in (
            ("/v1/labels", b'{"sample_id": %d, "label": "Bag\\u0000x", '
             b'"annotator": "x"}' % free["sample_id"]),
            ("/v1/leases", b'{"annotator": "a\\u0000b", "n": 1}'),
            ("/v1/leases", b'{"annotator\\u0000": "a", "n": 1}')):
        p = is_problem(raw_post(path, body), 400, "bad_json")
        assert "control character" in p["detail"], p


@unchanged
def test_annotator_over_63_bytes():
    for name in ("b" * 64, "\u00e9" * 32):  # 64 bytes of UTF-8 both
        r = D.post("/v1/leases", {"annotator": name, "n": 1})
        assert "63 bytes" in is_problem(r, 422, "bad_annotator")["detail"]


def test_escaped_backslash_before_u0000_is_text():
    name = "q\\u0000"  # a backslash, then the text u0000
    r = raw_post("/v1/leases", b'{"annotator": "q\\\\u0000", "n": 1}')
    assert r.status == 200, r.body
    lease = r.json["items"][0]
    r = D.post("/v1/labels", {"lease_id": lease["lease_id"], "label": "Bag"})
    assert r.status == 200, r.body
    rows = [json.loads(line) for line in D.get(
        "/v1/export?format=jsonl").body.decode().splitlines()]
    assert [x["annotator"] for x in rows
            if x["sample_id"] == lease["sample_id"]] == [name], rows


@unchanged
def test_wrong_shape_image_and_vector():
    r = D.request("POST", "/v1/samples", raw=png_bytes(27, 28, bytes(27 * 28)),
                  token="ingest", headers={"Content-Type": "image/png"})
    p = is_problem(r, 422, "invalid_samples")
    assert p["errors"][0]["code"] == "wrong_shape", p
    assert "27x28" in p["errors"][0]["detail"] or "28x27" in \
        p["errors"][0]["detail"], p
    good = {"vector": [0.5] * 784}
    r = D.post("/v1/samples", {"items": [good, {"vector": [1, 2, 3]}]})
    p = is_problem(r, 422, "invalid_samples")
    assert [e["index"] for e in p["errors"]] == [0, 1], p  # image project
    r = D.request("POST", "/v1/samples", raw=b"GIF89a....", token="ingest",
                  headers={"Content-Type": "image/png"})
    assert is_problem(r, 422, "invalid_samples")["errors"][0]["code"] == \
        "bad_image"
    r = D.request("POST", "/v1/samples", raw=b"x", token="ingest",
                  headers={"Content-Type": "text/plain"})
    is_problem(r, 415, "unsupported_media_type")


def test_vector_values_out_of_range():
    # one vector of 1e38 (a finite float32) once made every round's losses
    # infinite for good; 1e400 parses as infinity
    with Daemon(dim=3, classes=["a", "b"]) as d:
        before = db_digest(d.db)
        body = b'{"items": [{"vector": [1, 2, 3]}, {"vector": [1e10, 0, 0]}, ' \
            b'{"vector": [0, -1e400, 0]}, {"vector": [0, true, 0]}, ' \
            b'{"vector": [1, 2]}]}'
        r = d.request("POST", "/v1/samples", raw=body, token="ingest",
                      headers={"Content-Type": "application/json"})
        p = is_problem(r, 422, "invalid_samples")
        assert [(e["index"], e["code"]) for e in p["errors"]] == [
            (1, "bad_value"), (2, "bad_value"), (3, "wrong_shape"),
            (4, "wrong_shape")], p
        assert "1e9" in p["errors"][0]["detail"], p
        assert db_digest(d.db) == before, "the database changed"
        r = d.post("/v1/samples", {"items": [{"vector": [1e9, -1e9, 0.5]}]},
                   token="ingest")
        assert r.status == 200 and r.json["inserted"] == 1, r.body


@unchanged
def test_unknown_members_are_refused():
    # openapi.yaml forbids other members; ignored, a misspelt "annotator"
    # would credit the label to the token's name
    free = D.get("/v1/samples?state=unlabeled&limit=1").json["items"][0]
    sid = free["sample_id"]
    for path, body, why in (
            ("/v1/leases", {"annotator": "a", "n": 1, "ttl": 5},
             "unknown member 'ttl'"),
            ("/v1/labels", {"items": [{"sample_id": sid, "label": "Bag"}],
                            "sample_id": sid, "label": "Bag"},
             "a batch body holds items alone"),
            ("/v1/samples", {"items": [{"vector": [0.5] * 784}],
                             "split": "eval"}, "unknown member 'split'"),
            ("/v1/tokens", {"name": "x", "role": "annotate", "expires": 1},
             "unknown member 'expires'")):
        assert is_problem(D.post(path, body), 400,
                          "bad_request")["detail"] == why
    for body in ({"sample_id": sid, "label": "Bag", "annotater": "x"},
                 {"items": [{"sample_id": sid, "label": "Bag"},
                            {"sample_id": sid, "label": "Bag", "note": 1}]}):
        p = is_problem(D.post("/v1/labels", body), 422, "invalid_labels")
        bad = p["errors"][-1]
        assert bad["code"] == "bad_item" and "unknown member" in \
            bad["detail"], p
    r = D.post("/v1/samples", {"items": [{"image_base64": "", "comment": 1}]},
               token="ingest")
    p = is_problem(r, 422, "invalid_samples")
    assert p["errors"][0]["detail"] == "unknown member 'comment'", p
    # items that are not objects have no member names to check
    for path, code in (("/v1/labels", "invalid_labels"),
                       ("/v1/samples", "invalid_samples")):
        r = D.post(path, {"items": [[1, 2], "x", None]})
        p = is_problem(r, 422, code)
        assert [e["code"] for e in p["errors"]] == ["bad_item"] * 3, p
    assert D.get("/v1/health", token=None).status == 200


@unchanged
def test_token_names_and_roles():
    for body, code in (({"name": "x", "role": "root"}, "bad_role"),
                       ({"name": "x", "role": "Admin"}, "bad_role"),
                       ({"name": "x"}, "bad_role"),
                       ({"name": "x", "role": ["admin"]}, "bad_role"),
                       ({"role": "annotate"}, "bad_name"),
                       ({"name": "", "role": "annotate"}, "bad_name"),
                       ({"name": "x" * 64, "role": "annotate"}, "bad_name"),
                       ({"name": 7, "role": "annotate"}, "bad_name")):
        is_problem(D.post("/v1/tokens", body), 422, code)
    # the JSON reader refuses control characters in any string
    is_problem(D.post("/v1/tokens", {"name": "a\u0007b", "role": "annotate"}),
               400, "bad_json")
    is_problem(D.get("/v1/tokens?limit=0"), 400, "bad_query")
    is_problem(D.get("/v1/tokens?cursor=-3"), 400, "bad_query")
    is_problem(D.get("/v1/tokens?limit=1&limit=2"), 400, "bad_query")
    for role in ("annotate", "ingest"):
        is_problem(D.post("/v1/tokens", {"name": "x", "role": "admin"},
                          token=role), 403, "forbidden")
        is_problem(D.request("DELETE", "/v1/tokens/1", token=role), 403,
                   "forbidden")


@unchanged
def test_truncated_and_corrupt_idx():
    whole = idx_bytes([image_bytes(i) for i in range(100, 104)], gz=False)
    for bad in (whole[:-1], whole[:10], whole[:3], whole + b"x",
                idx_bytes([image_bytes(1)])[:-8], b"\x1f\x8b" + b"junk" * 10):
        r = D.request("POST", "/v1/samples", raw=bad, token="ingest",
                      headers={"Content-Type": "application/x-idx"})
        is_problem(r, 422, "bad_idx")


@unchanged
def test_unknown_ids():
    is_problem(D.get("/v1/samples/999999"), 404, "unknown_sample")
    is_problem(D.get("/v1/samples/abc"), 404, "unknown_sample")
    is_problem(D.get("/v1/samples/-1/image"), 404, "unknown_sample")
    is_problem(D.get("/v1/samples/99999999999999999999999"), 404,
               "unknown_sample")
    is_problem(D.post("/v1/labels/424242/undo"), 404, "unknown_label")
    is_problem(D.post("/v1/labels", {"lease_id": 31337, "label": "Bag"}), 404,
               "unknown_lease")
    is_problem(D.post("/v1/labels", {"sample_id": 31337, "label": "Bag"}),
               404, "unknown_sample")
    is_problem(D.request("DELETE", "/v1/leases/0"), 404, "unknown_lease")
    for tid in ("0", "999999", "x", "1.5"):
        is_problem(D.request("DELETE", f"/v1/tokens/{tid}"), 404,
                   "unknown_token")
    is_problem(D.get("/v1/nothing"), 404, "not_found")
    is_problem(D.request("PUT", "/v1/labels"), 405, "method_not_allowed")


@unchanged
def test_label_outside_classes_refuses_the_whole_batch():
    ids = [s["sample_id"] for s in D.get("/v1/samples?state=unlabeled")
           .json["items"][:3]]
    r = D.post("/v1/labels", {"items": [
        {"sample_id": ids[0], "label": "Bag"},
        {"sample_id": ids[1], "label": "Spaceship"},
        {"sample_id": ids[2], "label": 3},
        {"sample_id": 1.5, "label": "Bag"},
        {"lease_id": 1, "sample_id": 2, "label": "Bag"}]})
    p = is_problem(r, 422, "invalid_labels")
    assert [(e["index"], e["code"]) for e in p["errors"]] == [
        (1, "unknown_class"), (2, "unknown_class"), (3, "bad_id"),
        (4, "bad_item")], p
    is_problem(D.post("/v1/leases", {"n": 0}), 422, "bad_n")
    is_problem(D.post("/v1/leases", {"n": 1e300}), 422, "bad_n")
    is_problem(D.post("/v1/leases", {"n": 101}), 422, "bad_n")
    is_problem(D.post("/v1/leases", {"annotator": ""}), 422, "bad_annotator")
    is_problem(D.post("/v1/labels", {"items": [{"sample_id": 1,
                                                "label": "Bag"}] * 51}),
               413, "batch_too_large")


@unchanged
def test_body_over_the_limit():
    big = b"{\"items\": [" + b"1," * 40000 + b"1]}"
    is_problem(raw_post("/v1/samples", big), 413, "body_too_large")
    # Without Content-Length (chunked): counted while it arrives.
    conn = http.client.HTTPConnection("127.0.0.1", D.port, timeout=30)
    conn.request("POST", "/v1/labels", body=iter([big[:40000], big[40000:]]),
                 headers={"Authorization": "Bearer " + D.tokens["admin"],
                          "Content-Type": "application/json"},
                 encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 413, r.status
    conn.close()
    # A gzip IDX under the limit that inflates past it (84 images of 784
    # bytes > 65536): the limit counts the inflated bytes, so a small
    # upload cannot make arald allocate a gigabyte.
    body = idx_bytes([image_bytes(i) for i in range(84)])
    assert len(body) < 65536
    r = D.request("POST", "/v1/samples", raw=body, token="ingest",
                  headers={"Content-Type": "application/x-idx"})
    assert "inflates to more than 65536" in \
        is_problem(r, 413, "body_too_large")["detail"]
    assert D.get("/v1/health", token=None).status == 200


def exchange(data):
    """Sends raw bytes on one connection; what came back until arald closed
    it (None if it kept it open for more than 5 s)."""
    s = socket.create_connection(("127.0.0.1", D.port), timeout=5)
    out = b""
    try:
        s.sendall(data)
        while (part := s.recv(65536)):
            out += part
    except socket.timeout:
        return None
    finally:
        s.close()
    return out


def in_one_chunk(body):
    """body in the chunked transfer coding: one chunk, then the last."""
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


@unchanged
def test_a_body_whose_length_headers_disagree():
    # Two readings of one body's length are how a request is smuggled past
    # a proxy (RFC 9112, 6.3): arald refuses them before reading the body,
    # answers once and closes, so the body is never read as a request.
    free = D.get("/v1/samples?state=unlabeled&limit=1").json["items"][0]
    body = json.dumps({"sample_id": free["sample_id"], "label": "Bag"})
    body = body.encode()
    sneak = b"POST /v1/leases HTTP/1.1\r\nHost: a\r\n\r\n"
    chunked = in_one_chunk(body)
    n = len(body)
    for framing, payload in (
            (b"Content-Length: 2\r\nContent-Length: %d" % n, body),
            (b"Content-Length: %d\r\nContent-Length: %d" % (n, n), body),
            (b"Content-Length: %d\r\nTransfer-Encoding: chunked" % n, chunked),
            (b"Transfer-Encoding: chunked\r\nContent-Length: 3", chunked),
            (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
             chunked),
            (b"Transfer-Encoding: gzip", body),
            (b"Transfer-Encoding: gzip, chunked", chunked)):
        out = exchange(b"POST /v1/labels HTTP/1.1\r\nHost: a\r\n"
                       b"Authorization: Bearer %s\r\n"
                       b"Content-Type: application/json\r\n%s\r\n\r\n%s%s"
                       % (D.tokens["admin"].encode(), framing, payload, sneak))
        assert out is not None, (framing, "not answered, not closed")
        head, _, rest = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), (framing, out)
        assert b"\r\nConnection: close" in head, (framing, head)
        problem = json.loads(rest)
        assert problem["code"] == "bad_request", (framing, problem)
        assert b"Content-Length" in framing or \
            b"Transfer-Encoding" in problem["detail"].encode(), problem
        assert out.count(b"HTTP/1.1 ") == 1, (framing, out)
    # one chunked coding alone is read as usual (n = 0 is refused: read)
    out = exchange(b"POST /v1/leases HTTP/1.1\r\nHost: a\r\n"
                   b"Authorization: Bearer %s\r\nConnection: close\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n%s"
                   % (D.tokens["admin"].encode(), in_one_chunk(b'{"n":0}')))
    assert out is not None and b" 422 " in out.split(b"\r\n")[0], out
    assert b'"code":"bad_n"' in out, out


@unchanged
def test_bad_queries_and_tokens():
    is_problem(D.get("/v1/samples?limit=0"), 400, "bad_query")
    is_problem(D.get("/v1/samples?state=eaten"), 400, "bad_query")
    is_problem(D.get("/v1/samples?cursor=x"), 400, "bad_query")
    is_problem(D.get("/v1/queue?limit=100000"), 400, "bad_query")
    is_problem(D.get("/v1/rounds?limit=0"), 400, "bad_query")
    is_problem(D.get("/v1/rounds?cursor=-1"), 400, "bad_query")
    # a repeated argument is refused, not read as its first value
    for path in ("/v1/queue?limit=5&limit=7", "/v1/export?format=csv&format=jsonl",
                 "/v1/samples?state=labeled&limit=2&state=unlabeled"):
        p = is_problem(D.get(path), 400, "bad_query")
        assert "given twice" in p["detail"], p
    assert "limit given twice" in is_problem(
        D.get("/v1/queue?limit=5&limit=5"), 400, "bad_query")["detail"]
    # a route that reads no arguments ignores them, repeated or not
    assert D.get("/v1/health?x=1&x=2", token=None).status == 200
    is_problem(D.get("/v1/rounds/abc"), 404, "unknown_round")
    is_problem(D.get("/v1/rounds/7"), 404, "unknown_round")
    is_problem(D.post("/v1/model/retrain", token="ingest"), 403,
               "forbidden")
    is_problem(D.get("/v1/export?format=xml", token="ingest"), 400,
               "bad_query")
    is_problem(D.get("/v1/project", token="x" * 500), 401, "unauthorized")
    is_problem(D.post("/v1/leases", {"n": 1},
                      headers={"Idempotency-Key": "bad key"}),
               400, "bad_idempotency_key")


@unchanged
def test_authorization_scheme_and_spacing():
    # the scheme is case-insensitive and spaces around the token are not
    # part of it (RFC 9110, 11.4 and 5.5); other schemes stay refused
    tok = D.tokens["admin"]
    for value in ("bearer " + tok, "BEARER " + tok, "Bearer  " + tok,
                  "Bearer " + tok + " "):
        r = D.get("/v1/project", token=None, headers={"Authorization": value})
        assert r.status == 200, (value, r.body)
    for value in ("Basic " + tok, "Bearer", "Bearer ", "Bearer" + tok,
                  "Bearer x" + tok):
        r = D.get("/v1/project", token=None, headers={"Authorization": value})
        is_problem(r, 401, "unauthorized")


@unchanged
def test_head_and_the_allow_header():
    # monitors probe with HEAD: GET's status and headers, no body
    for path, token in (("/v1/health", None), ("/v1/model", "admin"),
                        ("/v1/samples?limit=3", "admin")):
        got, head = D.get(path, token=token), D.request("HEAD", path,
                                                        token=token)
        assert head.status == got.status == 200, (path, head.status)
        assert head.body == b"", (path, head.body)
        assert head.header("content-type") == got.header("content-type")
    # the stream's HEAD ends at once (under ASan a kept subscription
    # would show as a leak at exit)
    r = D.request("HEAD", "/v1/events")
    assert r.status == 200 and r.body == b"", r.status
    # a 405 names the methods the path takes (RFC 9110, 15.5.6)
    for method, path, allow in (("DELETE", "/v1/leases", "POST"),
                                ("PUT", "/v1/samples", "GET, HEAD, POST"),
                                ("PUT", "/v1/labels", "GET, HEAD, POST"),
                                ("HEAD", "/v1/model/retrain", "POST")):
        r = D.request(method, path)
        assert r.status == 405 and r.header("allow") == allow, \
            (method, path, r.status, r.header("allow"))


# An access line: time, request id, method, path, status, time taken, and
# the token (its id, "-" for none): one line a request, never more.
ACCESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f]{8}-\d+ "
                    r"[!-~]+ [!-~]+ \d{3} \d+us token=(-|\d+)$")


@unchanged
def test_a_request_cannot_forge_an_access_log_line():
    forged = "2001-01-01T00:00:00.000Z 00000000-9 POST /v1/labels 200 1us token=1"
    for path in ("/v1/a%0A" + forged.replace(" ", "%20"),
                 "/v1/b%1B%5B2J%0D%00", "/v1/c%E2%80%AEd%5C", "/v1/" + "y" * 3000):
        D.get(path)
    D.get("/v1/project")
    lines = [ln for ln in D.read_log().splitlines()
             if not ln.startswith("arald")]
    bad = [ln for ln in lines if not ACCESS.match(ln)]
    assert lines and not bad, bad[:3]
    assert not any(ln.startswith("2001-") for ln in lines)
    assert any(" GET /v1/a\\x0a2001-01-01T" in ln for ln in lines)
    assert any(" GET /v1/c\\xe2\\x80\\xaed\\x5c 404 " in ln for ln in lines)
    assert any(" GET /v1/yyy" in ln and "yyy... 404 " in ln for ln in lines)
    # who made it: the admin's token is the first
    assert re.search(r" GET /v1/project 200 \d+us token=1$", "\n".join(lines),
                     re.M)


@unchanged
def test_path_tricks():
    for trick in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                  "/index.html%00.js", "/v1/samples/1%2F..%2F2",
                  "/v1/samples/%00"):
        r = D.get(trick, token="admin")
        assert r.status in (400, 404), (trick, r.status)
        is_problem(r, r.status, r.json["code"])


# Odd values to put where a request's fields go, and bytes that break JSON.
ODD = [None, True, 0, -1, 2**31, 2**63 - 1, 2**64, -2**63, 1e308, 0.5, "",
       "Bag", "\u0000", "x" * 300, "\ud83d\ude00", [], [1], {}, [[[[]]]],
       "../../etc/passwd", "%00", "NaN"]
BREAK = [b"{", b"}", b"[", b"\"", b"\\u0000", b",", b"1e999", b"\xff",
         b"\\ud800", b"null"]


def mutated(v, r, near, depth=0):
    """v with one of its values, members or items replaced (by an odd value
    or one near a valid one), removed, added or repeated (a value nested in
    v, at random)."""
    if depth > 3 or not isinstance(v, (dict, list)) or not v:
        return r.choice(ODD if r.random() < 0.5 else near)
    v = dict(v) if isinstance(v, dict) else list(v)
    keys = list(v) if isinstance(v, dict) else range(len(v))
    k, op = r.choice(keys), r.random()
    if op < 0.3:
        v[k] = mutated(None, r, near, depth)
    elif op < 0.45:
        del v[k]
    elif op < 0.55 and isinstance(v, dict):
        v[r.choice(["extra", "lease_id", "sample_id", "label", "n", "items",
                    "annotator", "lease", "vector", "image"])] = r.choice(ODD)
    elif op < 0.6 and isinstance(v, list):
        v = v * r.randint(2, 60)
    else:
        v[k] = mutated(v[k], r, near, depth + 1)
    return v


def garbled(b, r):
    """b with a byte changed, a span cut, a JSON token put in, or cut short."""
    b = bytearray(b)
    for _ in range(r.randint(1, 4)):
        i, op = r.randrange(len(b) + 1), r.random()
        if op < 0.3 and i < len(b):
            b[i] = r.randrange(256)
        elif op < 0.55:
            del b[i:i + r.randint(1, 8)]
        elif op < 0.8:
            b[i:i] = r.choice(BREAK)
        else:
            del b[i:]
    return bytes(b)


def random_request(r, valid, ids):
    """A mutation of one of the valid requests: (method, path, headers,
    body, token). ids: sample and lease ids that exist."""
    token = r.choice(["admin"] * 12 + ["annotate", "ingest", "wrong"])
    headers = {"Content-Type": r.choice(["application/json"] * 12 + [
        "text/plain", "multipart/form-data; boundary=x", "application/x-idx"])}
    if r.random() < 0.1:
        headers["Idempotency-Key"] = r.choice(["k1", "k2", "", "\x01",
                                               "x" * 300])
    kind = r.random()
    if kind < 0.6:
        path, body = r.choice(valid)
        near = ids + [2**31, "Bag", "Coat", "b"]
        data = json.dumps(mutated(body, r, near)).encode()
        return "POST", path, headers, data if r.random() < 0.8 \
            else garbled(data, r), token
    if kind < 0.7:
        headers["Content-Type"] = "application/x-idx"
        return "POST", "/v1/samples", headers, garbled(
            idx_bytes([image_bytes(500 + r.randrange(50))],
                      gz=r.random() < 0.5), r), token
    odd = ids + [0, -1, 2**40, "x", "1x", "%2e%2e", "%00", 10**20]
    if kind < 0.8:
        what = r.choice(["leases"] * 3 + ["tokens"])
        return "DELETE", f"/v1/{what}/{r.choice(odd)}", headers, None, token
    path = r.choice(["/v1/samples", "/v1/queue", "/v1/export", "/v1/stats",
                     "/v1/rounds", "/v1/model", "/v1/project", "/v1/labels",
                     "/v1/tokens",
                     f"/v1/samples/{r.choice(odd)}",
                     f"/v1/samples/{r.choice(odd)}/image",
                     f"/v1/rounds/{r.choice(odd)}"])
    values = ["", "0", "-1", "7", "1000000", "labeled", "csv", "%00",
              "9" * 30, "%ff"]
    keys = ["state", "cursor", "limit", "format", "annotator", "since"]
    query = "&".join(f"{r.choice(keys)}={r.choice(values)}"
                     for _ in range(r.randint(0, 3)))
    return r.choice(["GET"] * 5 + ["PUT", "DELETE"]), \
        path + ("?" + query if query else ""), headers, None, token


def test_random_mutations_of_valid_requests():
    # 1500 requests made from valid ones by the mutations above, seeded:
    # none gets a 5xx, each 4xx is a problem whose instance is its request
    # id, and no 4xx changes the database. This daemon never trains
    # (--min-labels), so the database changes only with a request's 2xx.
    with Daemon(serve_args=["--max-body", "65536", "--max-batch", "20",
                            "--min-labels", "1000000"]) as d:
        r = d.request("POST", "/v1/samples", token="ingest",
                      raw=idx_bytes([image_bytes(i) for i in range(40)]),
                      headers={"Content-Type": "application/x-idx"})
        assert r.status == 200, r.body
        # leased to the token's name, which labels by sample_id credit
        got = d.post("/v1/leases", {"n": 6}).json["items"]
        label = d.post("/v1/labels", {"lease_id": got[0]["lease_id"],
                                      "label": "Bag"}).json["items"][0]
        ids = [g["sample_id"] for g in got] + [g["lease_id"] for g in got]
        png = base64.b64encode(png_bytes(28, 28, bytes(784))).decode()
        valid = [
            ("/v1/leases", {"annotator": "b", "n": 2}),
            ("/v1/labels", {"lease_id": got[1]["lease_id"], "label": "Bag"}),
            ("/v1/labels", {"items": [
                {"sample_id": got[2]["sample_id"], "label": "Coat"},
                {"lease_id": got[3]["lease_id"], "label": "Bag"}]}),
            ("/v1/samples", {"items": [{"image": png, "external_id": "e",
                                        "split": "pool", "label": "Bag"}]}),
            (f"/v1/labels/{label['label_id']}/undo", {"lease": True}),
            ("/v1/tokens", {"name": "m", "role": "annotate"}),
        ]
        rand, statuses = random.Random(11), set()
        for i in range(1500):
            method, path, headers, data, token = random_request(rand, valid,
                                                                ids)
            before = db_digest(d.db)
            res = d.request(method, path, raw=data, headers=headers,
                            token=token)
            statuses.add(res.status)
            assert res.status < 500, (i, method, path, data, res.body)
            if res.status >= 400:
                is_problem(res, res.status, res.json["code"])
                assert db_digest(d.db) == before, (i, method, path, data)
        # the mutations reach past the first checks, and some stay valid
        assert {200, 401, 403, 404, 409, 413, 422} <= statuses, statuses


def teardown():
    assert D.stop() == 0, "arald did not exit cleanly on SIGTERM"
    log = D.read_log()
    assert "runtime error" not in log and "AddressSanitizer" not in log, log


setup()
try:
    run([test_malformed_json, test_nul_escape_in_a_string,
         test_annotator_over_63_bytes,
         test_escaped_backslash_before_u0000_is_text,
         test_wrong_shape_image_and_vector, test_vector_values_out_of_range,
         test_unknown_members_are_refused, test_token_names_and_roles,
         test_truncated_and_corrupt_idx, test_unknown_ids,
         test_label_outside_classes_refuses_the_whole_batch,
         test_body_over_the_limit, test_a_body_whose_length_headers_disagree,
         test_bad_queries_and_tokens,
         test_authorization_scheme_and_spacing,
         test_head_and_the_allow_header,
         test_path_tricks, test_a_request_cannot_forge_an_access_log_line,
         test_random_mutations_of_valid_requests])
finally:
    teardown()
