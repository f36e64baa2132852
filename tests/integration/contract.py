"""Holds arald's responses to docs/openapi.yaml: the operation (method and
path template), the status, the media type and, for JSON, the body against
the response's schema (JSON Schema 2020-12, Debian's python3-jsonschema).
The harness checks every response the integration tests receive; a field
renamed on either side fails the test that met it."""
import json
import os
import re

import jsonschema
import yaml

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "../../docs/openapi.yaml")


class Contract:
    def __init__(self, doc=None):
        self.doc = doc if doc is not None else yaml.safe_load(open(DOC))
        self.ops = []
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
            for method, op in item.items():
                self.ops.append((method.upper(), re.compile(pattern), op))
        self.resolver = jsonschema.RefResolver("", self.doc)

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def operation(self, method, path):
        path = path.split("?")[0]
        method = "GET" if method == "HEAD" else method
        known = False
        for m, pattern, op in self.ops:
            if pattern.match(path):
                known = True
                if m == method:
                    return op, True
        return None, known

    def validate(self, schema, value, where):
        try:
            jsonschema.Draft202012Validator(
                schema, resolver=self.resolver).validate(value)
        except jsonschema.ValidationError as e:
            path = "/".join(str(p) for p in e.absolute_path)
            raise AssertionError(f"{where}: the document disagrees at "
                                 f"'{path}': {e.message}") from None

    def check(self, method, path, status, ctype, body):
        """Raises AssertionError where the response leaves the document."""
        where = f"{method} {path} -> {status}"
        op, known = self.operation(method, path)
        base = (ctype or "").split(";")[0].strip()
        if op is None:
            # Not an API operation: the page's files, or a refusal of an
            # unknown path or method, which must still be a problem.
            if path.split("?")[0].startswith("/v1/") or known:
                assert status in (404, 405), f"{where}: not in the document"
            if status >= 400 and method != "HEAD":  # HEAD has no body
                self.validate(self.doc["components"]["schemas"]["Problem"],
                              json.loads(body), where)
            return
        responses = op["responses"]
        resp = self.deref(responses.get(str(status), responses.get("default")))
        assert resp is not None, f"{where}: status not in the document"
        content = resp.get("content")
        if status == 304 or method == "HEAD" or not content:
            return
        assert base in content, (f"{where}: {base!r} is not among "
                                 f"{sorted(content)}")
        if base in ("application/json", "application/problem+json"):
            schema = content[base].get("schema", {})
            self.validate(schema, json.loads(body), where)


_shared = None


def check(method, path, status, ctype, body):
    global _shared
    if _shared is None:
        _shared = Contract()
    _shared.check(method, path, status, ctype, body)
