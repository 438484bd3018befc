"""Console: the recruiter's review queue. Proposals of open vacancies best first, with
the score and its reasons in words and the quota left; approving and rejecting (with
a reason) through plain forms and through htmx (the row alone); a refused approval
answers the same on the API and the console, as a message on the queue."""

from schemas.events import matches as mev
from schemas.events.vacancies import VacancyEvaluated, Verdict
from tests.support.console import browser
from tests.support.gateway import advance_match, match_event

HX = {"HX-Request": "true"}


def propose(api, worker, vacancy, employer, score, reasons=()):
    api.fold(match_event(mev.MatchProposed, worker, vacancy, employer, score=score,
                         reasons=list(reasons)))
    return mev.match_id(worker, vacancy)


def test_queue_shows_proposals_best_first_with_reasons_and_quota(api, world):
    low = propose(api, "w2", "v1", "e1", 0.35, [
        {"code": "experience", "text": "2 years beyond the minimum", "weight": 0.2},
        {"code": "rehire", "text": "returned on time", "weight": 0.1}])
    api.fold(mev.QuotaUsageChanged(agreement_id="am-de", isco_code="6111", year=2027,
                                   annual_quota=2, used=1))
    b = browser(api, "rec")
    r = b.get("/console/review")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    text = r.text
    # both vacancies, v1's proposals best first
    assert 'id="vacancy-v1"' in text and 'id="vacancy-v2"' in text
    assert '<h2 id="vacancy-v1">Harvest hand</h2>' in text  # the title from its body
    assert "<dd>Germany</dd>" in text and "<dd>e1</dd>" in text
    assert text.index(f'id="proposal-{world["m11"]}"') < text.index(f'id="proposal-{low}"')
    assert "80%" in text and "35%" in text
    assert "2 year(s) of experience beyond the minimum" in text
    assert "returned on time from this employer before" in text
    assert "1 of 2 places left in 2027" in text
    assert "0 of 2" in text  # positions filled
    assert "Approve" in text and 'for="reason-' + low + '"' in text
    # one form per row: Reject is its default button (Enter in the reason), Approve
    # posts to its own action without the reason's check; htmx swaps the row
    row = text[text.index(f'id="proposal-{low}"'):]
    row = row[:row.index("</tr>")]
    assert row.count("<form") == 1
    assert f'hx-post="/console/review/{low}/reject"' in row
    assert (f'formaction="/console/review/{low}/approve" formnovalidate>Approve' in row
            and row.index(">Reject<") < row.index(">Approve<"))
    assert 'hx-target="closest tr" hx-swap="outerHTML"' in text


def test_queue_leaves_out_vacancies_that_are_not_open(api, world):
    api.fold(VacancyEvaluated(vacancy_id="v2", employer_id="e2", agreement_id="am-de",
                              status=Verdict.CLOSED))
    r = browser(api, "rec").get("/console/review")
    assert 'id="vacancy-v1"' in r.text and 'id="vacancy-v2"' not in r.text
    assert world["m22"] not in r.text


def test_other_roles_get_the_403_page(api, world):
    for who in ("admin", "emp1", "wk1"):
        b = browser(api, who)
        r = b.get("/console/review")
        assert r.status_code == 403 and world["m11"] not in r.text, who
        r = b.post(f"/console/review/{world['m11']}/approve", {})
        assert r.status_code == 403, who
    assert api.get("rec", f"/matches/{world['m11']}").json()["pending"] is None


def test_approve_without_javascript_redirects_to_the_queue(api, world):
    b = browser(api, "rec")
    b.get("/console/review")
    r = b.post(f"/console/review/{world['m11']}/approve", {})
    assert r.status_code == 200 and r.url.path == "/console/review"
    assert "Approval sent" in r.text
    match = api.get("rec", f"/matches/{world['m11']}").json()
    assert (match["status"], match["pending"]) == ("proposed", "approve")
    # the row now waits for the matcher: no buttons any more
    row = r.text[r.text.index(f'id="proposal-{world["m11"]}"'):]
    row = row[:row.index("</tr>")]
    assert "Waiting for a decision" in row and "Approve" not in row
    assert browser(api, "rec").post("/console/review/m-nope/approve", {}).status_code == 404


def test_approve_with_htmx_answers_the_row_alone(api, world):
    b = browser(api, "rec")
    b.get("/console/review")
    r = b.post(f"/console/review/{world['m22']}/approve", {}, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith(f'<tr id="proposal-{world["m22"]}"')
    assert "<html" not in r.text and "Approval sent" in r.text
    assert api.get("rec", f"/matches/{world['m22']}").json()["pending"] == "approve"


def test_reject_needs_a_reason_shown_at_the_field(api, world):
    b = browser(api, "rec")
    b.get("/console/review")
    r = b.post(f"/console/review/{world['m11']}/reject", {"reason": "  "})
    assert r.status_code == 422 and "<h1>Review queue</h1>" in r.text
    error = f'id="reason-{world["m11"]}-error">This field is required.</span>'
    assert error in r.text
    assert f'aria-describedby="reason-{world["m11"]}-error"' in r.text
    r = b.post(f"/console/review/{world['m11']}/reject", {"reason": ""}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and error in r.text
    assert api.get("rec", f"/matches/{world['m11']}").json()["pending"] is None

    r = b.post(f"/console/review/{world['m11']}/reject", {"reason": "No <i>licence</i>"},
               headers=HX)
    assert r.status_code == 200 and "Rejection sent." in r.text
    assert api.get("rec", f"/matches/{world['m11']}").json()["pending"] == "reject"
    r = b.post(f"/console/review/{world['m22']}/reject", {"reason": "Too far"})
    assert r.status_code == 200 and "Rejection sent." in r.text
    assert api.get("rec", f"/matches/{world['m22']}").json()["pending"] == "reject"


def test_a_refused_approval_answers_the_same_on_the_api_and_the_console(api, world):
    # the agreement allows 2 placements of 6111 in 2027: both are taken
    advance_match(api, "w1", "v1", "e1", "approved")
    advance_match(api, "w2", "v2", "e2", "approved")
    api.fold(mev.QuotaUsageChanged(agreement_id="am-de", isco_code="6111", year=2027,
                                   annual_quota=2, used=2))
    third = propose(api, "w2", "v1", "e1", 0.5)
    fourth = propose(api, "w1", "v2", "e2", 0.4)
    r = api.post("rec", f"/matches/{third}/approve")
    assert r.status_code == 409 and "quota" in r.json()["message"]

    b = browser(api, "rec")
    page = b.get("/console/review")
    assert "0 of 2 places left in 2027" in page.text
    message = ("Not approved: the 2027 quota for occupation 6111 under agreement am-de "
               "is used up.")
    r = b.post(f"/console/review/{third}/approve", {})  # without JavaScript
    assert r.status_code == 409 and "<h1>Review queue</h1>" in r.text
    assert f'<p class="refusal" role="alert">{message}</p>' in r.text
    assert "This cannot be done in the record" not in r.text  # not the error page
    r = b.post(f"/console/review/{fourth}/approve", {}, headers=HX)  # htmx: the row
    assert r.status_code == 200 and "<html" not in r.text
    assert f'<p class="refusal" role="alert">{message}</p>' in r.text
    assert "Approve" in r.text  # still proposed, still to decide
    for mid in (third, fourth):
        assert api.get("rec", f"/matches/{mid}").json()["pending"] is None


def test_approving_a_decided_proposal_is_a_message_too(api, world):
    b = browser(api, "rec")
    b.get("/console/review")
    assert b.post(f"/console/review/{world['m11']}/approve", {}).status_code == 200
    r = b.post(f"/console/review/{world['m11']}/approve", {})
    assert r.status_code == 409 and api.post(
        "rec", f"/matches/{world['m11']}/approve").status_code == 409
    assert ('role="alert">This proposal was already decided or is waiting for the matcher.'
            in r.text)


def test_what_a_row_shows_is_escaped(api, world):
    """The rows are written in Python (pages/proposal_rows.py), not by the template
    engine: what the matcher said and what the recruiter typed still render as text."""
    odd = propose(api, "w2", "v1", "e1", 0.3, [
        {"code": "new-kind", "text": "<b>bold</b> & <script>alert(1)</script>",
         "weight": 0.1}])
    b = browser(api, "rec")
    page = b.get("/console/review").text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    typed = '{id}"><script>alert(2)</script>' + "x" * 200  # too long: shown again, escaped
    r = b.post(f"/console/review/{odd}/reject", {"reason": typed}, headers=HX)
    assert r.status_code == 200 and 'aria-invalid="true"' in r.text
    assert "<script>alert(2)" not in r.text
    assert 'value="{id}&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;xxx' in r.text


def test_the_rows_speak_the_page_language(api, world):
    r = browser(api, "rec", language="hy").get("/console/review")
    row = r.text[r.text.index(f'id="proposal-{world["m11"]}"'):]
    row = row[:row.index("</tr>")]
    assert ">Հաստատել<" in row and ">Մերժել<" in row  # Approve, Reject
    assert "Approve" not in row and "Reject" not in row and "Proposed" not in row
