"""What a Prometheus scrape of the gateway shows about its requests: one series per
method, route template and status, whatever the ids in the paths and the methods
clients make up."""

import re


def series(api, route: str) -> dict[tuple[str, str], float]:
    """``{(method, status): count}`` of the request counter for one route template."""
    text = api.client.get("/metrics").text
    found: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        m = re.match(r'circular_http_requests_total\{(.*)\} (\S+)$', line)
        if m is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels["route"] == route:
            found[(labels["method"], labels["status"])] = float(m.group(2))
    return found


def test_requests_are_counted_by_route_template_not_by_path(api, world):
    for agreement in ("am-de", "agreements", "nope"):  # a value like a path's own word
        api.get("rec", f"/agreements/{agreement}")
    assert series(api, "/api/v1/agreements/{agreement_id}") == {("GET", "200"): 1.0,
                                                                 ("GET", "404"): 2.0}
    assert series(api, "/api/v1/agreements/am-de") == {}


def test_a_console_page_is_counted_under_its_full_path(api):
    assert api.client.get("/console/sign-in").status_code == 200
    assert series(api, "/console/sign-in") == {("GET", "200"): 1.0}
    assert series(api, "/sign-in") == {}


def test_made_up_methods_and_unknown_paths_do_not_add_series(api):
    for method in ("BREW", "WHEN", "PROPFIND"):
        assert api.client.request(method, "/api/v1/agreements").status_code == 405
    api.client.get("/no/such/page/1")
    api.client.get("/no/such/page/2")
    assert series(api, "/api/v1/agreements") == {("other", "405"): 3.0}
    assert series(api, "unmatched") == {("GET", "404"): 2.0}
