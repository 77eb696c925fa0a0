"""api/openapi.yaml against the running server: every route the server answers is
documented, every documented route is answered, and answers match the documented shapes."""
import os
import re

import pytest
import yaml

from conftest import ROOT, assert_error, site

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
        return yaml.safe_load(f)


def norm(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented(spec):
    return {(m.upper(), norm(p)) for p, item in spec["paths"].items() for m in item
            if m in METHODS}


# ---- a small validator for the subset of JSON Schema the document uses -----------------

def resolve(spec, schema):
    while "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def accepts(spec, schema, value):
    try:
        validate(spec, schema, value)
        return True
    except AssertionError:
        return False


def validate(spec, schema, value, where="$"):
    """OpenAPI 3.1 (JSON Schema 2020-12) semantics: null only where `type` lists 'null',
    an enum holds null, or an anyOf/oneOf branch takes it."""
    schema = resolve(spec, schema)
    for sub in schema.get("allOf", []):
        validate(spec, sub, value, where)
    if "anyOf" in schema:
        assert any(accepts(spec, s, value) for s in schema["anyOf"]), \
            "%s: %r matches no anyOf branch" % (where, value)
    if "oneOf" in schema:
        n = sum(accepts(spec, s, value) for s in schema["oneOf"])
        assert n == 1, "%s: %r matches %d oneOf branches, not one" % (where, value, n)
    t = schema.get("type")
    ts = t if isinstance(t, list) else [t] if t else []
    if value is None:
        assert "null" in ts or (not ts and ("anyOf" in schema or "oneOf" in schema)), \
            "%s: null where the document says it is not" % where
        if "enum" in schema:
            assert None in schema["enum"], "%s: null not in enum" % where
        return
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if ts:
        ok = any((isinstance(value, int) and not isinstance(value, bool)) if x == "integer"
                 else isinstance(value, types[x]) for x in ts if x != "null")
        assert ok, "%s: %r is not %s" % (where, value, "/".join(ts))
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (where, value, schema["enum"])
    if isinstance(value, dict):
        for k in schema.get("required", []):
            assert k in value, "%s: required %s missing" % (where, k)
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                validate(spec, props[k], v, "%s.%s" % (where, k))
            elif extra is False:
                raise AssertionError("%s: undocumented field %s" % (where, k))
            elif isinstance(extra, dict):
                validate(spec, extra, v, "%s.%s" % (where, k))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(spec, schema["items"], v, "%s[%d]" % (where, i))


def response_schema(spec, path, method, status):
    op = spec["paths"][path][method.lower()]
    resp = op["responses"].get(str(status))
    assert resp is not None, "%s %s: status %s is not documented" % (method, path, status)
    resp = resolve(spec, resp)
    content = resp.get("content")
    if not content or "application/json" not in content:
        return None     # no body, or not JSON (GET /metrics: text)
    return content["application/json"]["schema"]


def populate(ctl):
    assert ctl.post("/v1/import", {
        "profiles": [{"name": "cov-p"}],
        "sites": [site("cov-a", 1, tags={"r": "x"}), site("cov-b", 2, tags={"r": "x"}),
                  site("cov-c", 3)],
        "topologies": [{"name": "cov-t", "kind": "full-mesh", "profile": "cov-p",
                        "match_tags": {"r": "x"}}],
        "tunnels": [{"name": "cov-x", "a": "cov-a", "b": "cov-c", "profile": "cov-p"}],
    }).status == 200
    r = ctl.post("/v1/tokens", {"name": "cov", "role": "viewer"})
    assert r.status == 201
    return r.json["id"]


SAMPLE = {"sites": "cov-a", "profiles": "cov-p", "topologies": "cov-t", "tunnels": "cov-x"}


def concrete(path, token_id):
    if path.endswith("/rotate-psk"):
        return re.sub(r"\{[^}]+\}", "1", path)      # the first materialised tunnel
    if path.startswith("/v1/agents/") or path.startswith("/v1/sites/{name}/"):
        return re.sub(r"\{[^}]+\}", SAMPLE["sites"], path)
    m = re.match(r"^/v1/(\w+)/\{[^}]+\}$", path)
    if not m:
        return path
    if m.group(1) == "tokens":
        return "/v1/tokens/%d" % token_id
    return "/v1/%s/%s" % (m.group(1), SAMPLE[m.group(1)])


def test_route_table_matches_the_document(ctl, spec):
    r = ctl.get("/v1/_routes")
    assert r.status == 200, r
    served = {(x["method"].upper(), norm(x["path"])) for x in r.json["routes"]}
    doc = documented(spec)
    assert served - doc == set(), "served but not documented: %s" % sorted(served - doc)
    assert doc - served == set(), "documented but not served: %s" % sorted(doc - served)


def test_every_documented_route_is_answered(ctl, spec):
    token_id = populate(ctl)
    ops = [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS]
    # Deletions last, so the objects the other requests name still exist.
    ops.sort(key=lambda op: op[0] == "DELETE")
    for method, path in ops:
        url = concrete(path, token_id)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        r = ctl.request(method, url, body)
        if path.startswith("/ui/"):
            # The map's files: this controller has none installed, and says so.
            assert r.status == 404 and "not installed" in r.json["error"]["message"], r
            continue
        assert r.status not in (404, 405), "%s %s (%s) → %r" % (method, path, url, r)
        assert r.status < 500, "%s %s → %r" % (method, path, r)
        # The status is one the document lists for this operation, and so is the shape.
        schema = response_schema(spec, path, method, r.status)
        if schema is not None:
            validate(spec, schema, r.json, "%s %s" % (method, path))
        else:
            assert r.body == b"" or r.status != 204, r


def test_undocumented_routes_are_404(ctl, spec):
    probes = ["/", "/v1", "/v1/", "/v2/sites", "/v1/site", "/v1/sitez", "/v1/sites/a/b",
              "/v1/sites/a/tunnels", "/v1/admin", "/v1/config", "/v1/debug", "/v1/intent",
              "/v1/tokens/1/x", "/v1/audit/1", "/v1/export/sites", "/v1/import/csv",
              "/healthz/", "/metrics/", "/v1/tunnels/x/y", "/openapi.yaml", "/v1/_routes/x",
              "/V1/sites", "/v1/SITES", "/v1//sites"]
    doc_paths = [re.compile("^" + re.sub(r"\{[^}]*\}", "[^/]+", p) + "$") for p in spec["paths"]]
    for path in probes:
        assert not any(rx.match(path) for rx in doc_paths), path
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            r = ctl.request(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
            assert_error(r, 404, "not_found")


def test_undocumented_methods_are_405(ctl, spec):
    for path, item in spec["paths"].items():
        url = concrete(path, 1)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() in item:
                continue
            r = ctl.request(method, url, {} if method in ("POST", "PUT", "PATCH") else None)
            assert_error(r, 405, "method_not_allowed")


def test_responses_match_documented_schemas(ctl, spec):
    token_id = populate(ctl)
    checks = [("GET", "/healthz", "/healthz", 200),
              ("GET", "/v1/sites", "/v1/sites", 200),
              ("GET", "/v1/sites/{name}", "/v1/sites/cov-a", 200),
              ("GET", "/v1/profiles/{name}", "/v1/profiles/cov-p", 200),
              ("GET", "/v1/topologies", "/v1/topologies", 200),
              ("GET", "/v1/tunnels", "/v1/tunnels", 200),
              ("GET", "/v1/tunnels/{name}", "/v1/tunnels/cov-x", 200),
              ("GET", "/v1/export", "/v1/export", 200),
              ("GET", "/v1/tokens", "/v1/tokens", 200),
              ("GET", "/v1/audit", "/v1/audit", 200),
              ("GET", "/v1/_routes", "/v1/_routes", 200),
              ("GET", "/v1/sites/{name}", "/v1/sites/none", 404)]
    for method, path, url, status in checks:
        r = ctl.request(method, url)
        assert r.status == status, (url, r)
        validate(spec, response_schema(spec, path, method, status), r.json, url)
    r = ctl.post("/v1/import?dry_run=true", ctl.export())
    validate(spec, response_schema(spec, "/v1/import", "POST", 200), r.json, "import")
    # The export is a valid import document by the document's own schema.
    validate(spec, spec["components"]["schemas"]["ImportDocument"], ctl.export(), "export")
    r = ctl.post("/v1/tokens", {"name": "x", "role": "operator"})
    validate(spec, response_schema(spec, "/v1/tokens", "POST", 201), r.json, "token")
    e = ctl.post("/v1/sites", {"name": "bad", "underlay": "x"})
    validate(spec, response_schema(spec, "/v1/sites", "POST", 422), e.json, "422")
    assert token_id
