"""Schemathesis against the gateway's own OpenAPI document: generated requests for
every operation, valid (positive) and invalid (negative) data, no response may be a
server error or break the documented schema, status codes, content types or headers,
and invalid data must be refused.

The world of tests/support/gateway.py is seeded first; a good share of the calls
use its real ids in the path (so they reach the records, not 404), and every call
goes out as one of admin, recruiter, both employers and both workers, or without a
token (so the 401 and 403 paths run too). Driven through schemathesis' schema API
(its lazy pytest fixture loader does not work with pytest 9), one hypothesis run per
operation and mode. The counts go to var/schemathesis-summary.json."""

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.openapi.checks import RejectedPositiveData

from schemas.events import triggers as tev
from services.gateway.clock.service import real_today
from tests.support.gateway import advance_match, build_world, worker_body

EXAMPLES = {GenerationMode.POSITIVE: 22, GenerationMode.NEGATIVE: 16}
# Every check runs. The document states the input rules (code lists, date ranges,
# decimal amounts, texts without NUL, the ids each role's login takes), so
# schema-valid data is accepted (2xx) or refused for a reason of state: 401, 403,
# 404, 409, as schemathesis' positive_data_acceptance expects. What JSON Schema
# cannot state still answers a documented 422; positive_data_acceptance runs through
# the wrapper below, which lets such a 422 pass only when every error it names is
# one of these rules, never a field's type, shape, list or range.
EXCLUDED = [positive_data_acceptance]
#: field -> what the message says, for rules no JSON Schema of the body can state
UNSTATED_RULES = {
    # a rule across fields (a model's own validator): valid_until after valid_from,
    # max_age over min_age, origin and destination differ, each language once...
    "body": "",
    # a date of birth that is in the past: today moves, the document cannot
    "body.date_of_birth": "must be in the past",
    # a special-use domain name (RFC 6761: .test, .local...) is no address
    "body.email": "special-use or reserved name",
    # a file's content: POST /workers/import takes a UTF-8 CSV roster (its header and
    # rows are checked as the README says; the document can only say "binary")
    "body.file": "",
}


def stated_rules_only(ctx, response, case):
    """schemathesis' positive_data_acceptance, except for a 422 whose every error is a
    rule the document cannot state (:data:`UNSTATED_RULES`) or a referenced id that
    does not exist (``unknown_id``: which ids exist is the server's state)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code != 422:
            raise
        errors = response.json().get("errors") or [{"field": "", "message": "", "type": ""}]
        if not all(e["type"] == "unknown_id" or (
                e["field"] in UNSTATED_RULES and UNSTATED_RULES[e["field"]] in e["message"])
                for e in errors):
            raise
        return None
# who calls: staff twice as often, so that more calls get past the role checks; now
# and then nobody (401, or a self-registration on POST /workers)
CALLERS = ("admin", "rec", "admin", "rec", "emp1", "emp2", "wk1", "wk2", None)
# where an operation takes path ids, three calls in five use the seeded world's
REAL_ID_DRAWS = (True, False, True, False, True)


def seed(api):
    """The world, plus what the id-taking routes need to do real work: an approved
    match for w1 (accept/decline), a fired trigger, workers that may be erased."""
    ids = build_world(api)
    for who in CALLERS:  # signed in before schemathesis' wrong passwords hit the limit
        api.as_(who)
    advance_match(api, "w1", "v1", "e1", "approved")
    for n, passport in ((3, "AM3000003"), (4, "AM4000004")):
        assert api.post("rec", "/workers", json=worker_body(f"w{n}", passport)).status_code == 202
    for worker in ("w1", "w2"):
        api.fold(tev.TriggerFired(
            trigger_id=f"t-{worker}", worker_id=worker, placement_id=None,
            kind=tev.TriggerKind.COUNSELLING_REFERRAL, cause="seed",
            reason="Returned: offer a consultation.", due_date=real_today()))
    return {
        "agreement_id": ["am-de"],
        "employer_id": ["e1", "e2"],
        "vacancy_id": ["v1", "v2"],
        "match_id": [ids["m11"], ids["m22"]],
        "trigger_id": ["t-w1", "t-w2"],
        # DELETE takes w3 and w4 instead: erasure is for good, and wk1, wk2 log in
        "worker_id": ["w1", "w2", "w3"],
    }


def real_path_parameters(operation, pools):
    names = [p.name for p in operation.path_parameters]
    if not names:
        return []
    combos = [{}]
    for name in names:
        values = pools.get(name, [])
        if operation.method.upper() == "DELETE" and name == "worker_id":
            values = ["w3", "w4"]
        combos = [{**c, name: v} for c in combos for v in values]
    return combos


def strategies_for(operation, mode, pools):
    """(random strategy or None, [one strategy per combination of real path ids]).
    Negative data needs something to make invalid: a body, a query parameter, or (for
    the random strategy) a path parameter; with the path fixed to real ids only the
    body and query are left."""
    has_path = bool(list(operation.path_parameters))
    rest = len(operation.body) > 0 or bool(list(operation.query))
    generated = operation.as_strategy(generation_mode=mode)
    real = [operation.as_strategy(generation_mode=mode, path_parameters=ids)
            for ids in real_path_parameters(operation, pools)]
    if mode is GenerationMode.NEGATIVE:
        generated = generated if (has_path or rest) else None
        real = real if rest else []
    return generated, real


def run_operation(api, operation, mode, pools, stats):
    generated, real = strategies_for(operation, mode, pools)
    if generated is None and not real:
        stats["nothing_to_negate"].append(f"{operation.method.upper()} {operation.path}")
        return False
    token_free = operation.path == "/api/v1/auth/token"

    @given(data=st.data())
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(data):
        use_real = bool(real) and (generated is None or data.draw(
            st.sampled_from(REAL_ID_DRAWS), label="real ids"))
        strategy = data.draw(st.sampled_from(real)) if use_real else generated
        case = data.draw(strategy, label="case")
        who = None if token_free else data.draw(st.sampled_from(CALLERS), label="caller")
        response = case.call_and_validate(headers=api.as_(who), excluded_checks=EXCLUDED,
                                            additional_checks=[stated_rules_only])
        stats["examples"] += 1
        stats["modes"][mode.value] += 1
        stats["real_ids"] += use_real
        stats["with_path_ids"] += bool(real)
        stats["statuses"][str(response.status_code)] += 1
        stats["callers"][who or "none"] += 1

    check()
    return True


RUNS = pytest.StashKey[dict]()
SUMMARY = Path(__file__).resolve().parents[2] / "var" / "schemathesis-summary.json"


def write_summary(config, database, summary):
    """var/schemathesis-summary.json: the totals of this session's runs (operations,
    examples, statuses, failures), and each database's run in detail."""
    runs = config.stash.setdefault(RUNS, {})
    runs[database] = summary
    statuses = Counter()
    for run in runs.values():
        statuses.update(run["statuses"])
    total = {"operations": max(r["operations"] for r in runs.values()),
             "examples": sum(r["examples"] for r in runs.values()),
             "statuses": dict(sorted(statuses.items())),
             "failures": sorted({f"{db}: {f}" for db, r in runs.items() for f in r["failures"]}),
             "by_database": runs}
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(total, indent=2))


def test_no_server_errors_and_responses_match_the_document(api, request):
    pools = seed(api)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    stats = {"operations": 0, "runs": 0, "examples": 0, "with_path_ids": 0, "real_ids": 0,
             "modes": Counter(), "statuses": Counter(), "callers": Counter(),
             "nothing_to_negate": []}
    failures = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        stats["operations"] += 1
        for mode in EXAMPLES:
            try:
                stats["runs"] += run_operation(api, operation, mode, pools, stats)
            except (Exception, BaseExceptionGroup) as exc:  # every failure, reported at the end
                key = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures[key] = str(exc)[:3000]
    database = api.sessions.kw["bind"].dialect.name
    summary = {"seconds": round(time.monotonic() - started, 1),
               **{k: dict(sorted(v.items())) if isinstance(v, Counter) else v
                  for k, v in stats.items()},
               "failures": sorted(failures)}
    write_summary(request.config, database, summary)
    print(f"\nschemathesis on {database}: {stats['operations']} operations, "
          f"{stats['examples']} examples ({dict(stats['modes'])}, "
          f"{stats['real_ids']} of {stats['with_path_ids']} with path ids used real ones), "
          f"statuses {dict(stats['statuses'])}")
    assert stats["operations"] >= 35
    assert stats["runs"] == 2 * stats["operations"] - len(stats["nothing_to_negate"])
    assert len(stats["nothing_to_negate"]) <= 3  # healthz, readyz, metrics
    assert stats["modes"]["negative"] > 0
    assert stats["real_ids"] >= 0.4 * stats["with_path_ids"]  # a good share reach records
    for status in ("200", "202", "403", "404", "422"):
        assert stats["statuses"][status] > 0, status
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
