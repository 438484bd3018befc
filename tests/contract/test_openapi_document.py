"""The OpenAPI document states what the gateway does beyond its route declarations:
413 on every operation with a body, the optional token of self-registration, and
the operations routes under /api/v1 as SPEC 4 lists them (the root paths stay, for
probes, out of the document)."""

PUBLIC = {("post", "/api/v1/auth/token"), ("get", "/api/v1/healthz"),
          ("get", "/api/v1/readyz"), ("get", "/api/v1/metrics")}


def operations(document):
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def test_every_operation_with_a_body_documents_413(api):
    document = api.client.get("/openapi.json").json()
    with_body = [(m, p, op) for m, p, op in operations(document) if "requestBody" in op]
    assert len(with_body) >= 12
    for method, path, op in with_body:
        answer = op["responses"].get("413")
        assert answer is not None, (method, path)
        schema = answer["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_self_registration_is_documented_with_an_optional_token(api):
    document = api.client.get("/openapi.json").json()
    register = document["paths"]["/api/v1/workers"]["post"]
    assert register["security"] == [{}, {"OAuth2PasswordBearer": []}]
    for method, path, op in operations(document):
        if (method, path) in PUBLIC or (method, path) == ("post", "/api/v1/workers"):
            continue
        assert op.get("security") == [{"OAuth2PasswordBearer": []}], (method, path)
    # and it is true: without a token, with username and password, it registers
    from tests.support.gateway import PASSWORD, worker_body
    r = api.client.post("/api/v1/workers", json={
        **worker_body("w5", "AM5000005"), "username": "self", "password": PASSWORD})
    assert r.status_code == 202


def test_operations_routes_are_served_under_api_v1_too(api):
    document = api.client.get("/openapi.json").json()
    for name in ("healthz", "readyz", "metrics"):
        assert f"/api/v1/{name}" in document["paths"]
        assert f"/{name}" not in document["paths"]
        for path in (f"/api/v1/{name}", f"/{name}"):
            r = api.client.get(path)
            assert r.status_code == 200, (path, r.text)
    assert api.client.get("/api/v1/healthz").json() == {"status": "ok"}
    assert api.client.get("/api/v1/readyz").json()["status"] == "ready"
    assert "circular_http_requests_total" in api.client.get("/api/v1/metrics").text


def test_a_405_allows_every_method_of_the_path(api):
    """Routes that share a path (``GET`` and ``POST /vacancies``) are separate routes;
    a method none of them serves answers 405 listing all of theirs."""
    import re

    document = api.client.get("/openapi.json").json()
    templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"),
                  {m.upper() for m in ops}) for path, ops in document["paths"].items()]
    headers = api.as_("admin")
    checked = 0
    for path in document["paths"]:
        url = path.replace("{", "x").replace("}", "")
        # every documented path the URL fits: /workers/import is a {worker_id} too
        documented = set().union(*(methods for t, methods in templates if t.match(url)))
        for method in ("PUT", "PATCH", "DELETE", "POST", "GET"):
            if method in documented:
                continue
            r = api.client.request(method, url, headers=headers)
            assert r.status_code == 405, (method, path, r.status_code)
            assert set(r.headers["allow"].split(", ")) == documented, (method, path)
            assert r.json()["code"] == "method_not_allowed"
            checked += 1
    assert checked >= 100
