"""docs/openapi.yaml against the daemon: the router's table and the
document list the same operations, the daemon serves the document, and
the contract check (contract.py, run on every response of the suite)
fails when a field is renamed on either side."""
import copy
import os
import re

import yaml

import contract
from harness import Daemon, run, vectors

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTER = os.path.join(HERE, "../../server/router.c")


def route_table():
    """(METHOD, path) of every entry of ROUTES in server/router.c."""
    text = open(ROUTER).read()
    table = text[text.index("ROUTES[] = {"):text.index("};", text.index("ROUTES[] = {"))]
    rows = re.findall(r'\{"([A-Z]+)", "([^"]+)"', table)
    assert len(rows) > 15, rows
    return {(m, re.sub(r":([a-z_]+)", r"{\1}", p)) for m, p in rows}


def test_router_and_document_list_the_same_operations():
    doc = yaml.safe_load(open(contract.DOC))
    documented = {(m.upper(), p) for p, item in doc["paths"].items()
                  for m in item}
    routes = route_table()
    assert routes - documented == set(), f"undocumented: {routes - documented}"
    assert documented - routes == set(), f"not served: {documented - routes}"


def test_the_daemon_serves_the_document_without_a_token():
    with Daemon() as d:
        r = d.get("/v1/openapi.yaml", token=None)
        assert r.status == 200, r.status
        assert r.header("content-type").startswith("application/yaml")
        assert r.body == open(contract.DOC, "rb").read()
        again = d.get("/v1/openapi.yaml", token=None,
                      headers={"If-None-Match": r.header("etag")})
        assert again.status == 304


def renamed(doc, schema, old, new):
    """A copy of doc with a property of a component schema renamed."""
    doc = copy.deepcopy(doc)
    s = doc["components"]["schemas"][schema]
    parts = s["allOf"][1] if "allOf" in s else s
    parts["properties"][new] = parts["properties"].pop(old)
    parts["required"] = [new if x == old else x for x in parts["required"]]
    return doc


def refused(check, *args):
    try:
        check(*args)
    except AssertionError as e:
        return str(e)
    raise AssertionError(f"the contract let {args[:3]} through")


def test_a_renamed_field_fails_the_contract():
    doc = yaml.safe_load(open(contract.DOC))
    with Daemon(dim=4, classes=["a", "b"]) as d:
        assert d.post("/v1/samples", {"items": vectors(3, 4)}).status == 200
        lease = d.post("/v1/leases", {"annotator": "a", "n": 1})
        args = ("POST", "/v1/leases", lease.status,
                lease.header("content-type"), lease.body)
        assert len(lease.json["items"]) == 1
        contract.Contract(doc).check(*args)  # as served: fine
        # renamed in the document
        why = refused(contract.Contract(renamed(doc, "Lease", "expires_at",
                                                "expires")).check, *args)
        assert "expires" in why, why
        # renamed in the response
        body = lease.body.replace(b'"expires_at"', b'"expiry"')
        why = refused(contract.Contract(doc).check, *args[:4], body)
        assert "expir" in why, why
        # a status or a media type the document does not list
        refused(contract.Contract(doc).check, "POST", "/v1/leases", 418,
                "application/json", b"{}")
        refused(contract.Contract(doc).check, "GET", "/v1/model", 200,
                "text/html", b"")
        # an error code not listed for the operation
        problem = d.post("/v1/leases", {"annotator": "a", "n": 0})
        assert problem.status == 422
        body = problem.body.replace(b'"bad_n"', b'"bad_count"')
        refused(contract.Contract(doc).check, "POST", "/v1/leases", 422,
                problem.header("content-type"), body)


run([test_router_and_document_list_the_same_operations,
     test_the_daemon_serves_the_document_without_a_token,
     test_a_renamed_field_fails_the_contract])
