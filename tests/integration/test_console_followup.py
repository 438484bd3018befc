"""Console: the recruiter's follow-up work. Departures of accepted offers (recorded
as POST /departures records them: a pending placement and a DepartureRecorded event;
a date after today refused at the field), the workers abroad; reintegration
triggers in words, filtered, completed with an outcome (plain form and htmx); the
roster import page (summary, row errors, the error report as CSV). Every page is for
staff only; other roles get the 403 page and none of the data."""

from datetime import date, timedelta

from sqlalchemy import select

from schemas.codec import decode
from schemas.events import placements as pev
from schemas.events import triggers as tev
from schemas.events.placements import placement_id
from services.gateway.clock.service import real_today
from services.gateway.outbox.models import OutboxRecord
from tests.support.console import browser
from tests.support.gateway import advance_match

HX = {"HX-Request": "true"}


def published(api, event_type):
    with api.sessions() as s:
        rows = s.scalars(select(OutboxRecord).where(OutboxRecord.event_type == event_type)
                         .order_by(OutboxRecord.id)).all()
    return [decode(r.value.encode(), [(k, v.encode()) for k, v in r.headers]).event
            for r in rows]


def row_of(html, element_id):
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</tr>", start)]


# -- departures ------------------------------------------------------------------------

def test_departures_lists_accepted_offers_and_records_a_departure(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    b = browser(api, "rec")
    r = b.get("/console/departures")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    row = row_of(r.text, f"departure-{m}")
    assert 'href="/console/workers/w1"' in row and "v1" in row
    assert f'for="departure_date-{m}"' in row and f'for="border_crossing_point-{m}"' in row
    assert f'departure-{world["m22"]}' not in r.text  # only proposed: nothing to record
    assert "No worker is abroad." in r.text
    today = real_today()
    r = b.post(f"/console/departures/{m}", {"departure_date": today.isoformat(),
                                            "border_crossing_point": "Bagratashen"})
    assert r.status_code == 200 and r.url.path == "/console/departures"
    assert "Departure recorded." in r.text
    assert f"departure-{m}" not in r.text  # departed: no longer waiting
    # the same effect as POST /departures: a pending placement and the event
    [placement] = api.get("rec", "/placements").json()["items"]
    assert placement["placement_id"] == placement_id(m)
    assert (placement["status"], placement["departure_date"]) == ("pending", today.isoformat())
    [event] = published(api, "circular.departure.recorded")
    assert (event.match_id, event.border_crossing_point) == (m, "Bagratashen")


def test_a_departure_after_today_is_refused_at_the_field(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    b = browser(api, "rec")
    b.get("/console/departures")
    tomorrow = (real_today() + timedelta(days=1)).isoformat()
    r = b.post(f"/console/departures/{m}", {"departure_date": tomorrow,
                                            "border_crossing_point": "<b>Lars</b>"})
    assert r.status_code == 422
    row = row_of(r.text, f"departure-{m}")
    assert f'id="departure_date-{m}-error"' in row and "This date is after today." in row
    assert f'value="{tomorrow}"' in row  # what was typed stays
    assert "&lt;b&gt;Lars&lt;/b&gt;" in row and "<b>Lars</b>" not in r.text
    r = b.post(f"/console/departures/{m}", {"departure_date": ""})
    assert r.status_code == 422 and "This field is required." in row_of(r.text,
                                                                         f"departure-{m}")
    assert api.get("rec", "/placements").json()["total"] == 0
    assert published(api, "circular.departure.recorded") == []


def test_a_match_that_is_not_accepted_cannot_depart(api, world):
    b = browser(api, "admin")
    b.get("/console/departures")
    r = b.post(f"/console/departures/{world['m22']}",
               {"departure_date": real_today().isoformat()})
    assert r.status_code == 409
    assert "This match is no longer accepted" in r.text
    assert b.post("/console/departures/m-nope",
                  {"departure_date": real_today().isoformat()}).status_code == 404
    assert api.get("rec", "/placements").json()["total"] == 0


def test_workers_abroad_show_their_expected_return(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    departed = real_today() - timedelta(days=10)
    assert api.post("rec", "/departures", json={
        "match_id": m, "departure_date": departed.isoformat()}).status_code == 202
    api.fold(pev.PlacementStarted(
        placement_id=placement_id(m), match_id=m, worker_id="w1", vacancy_id="v1",
        employer_id="e1", agreement_id="am-de", destination_country="DE", isco_code="6111",
        departure_date=departed, expected_return_date=date(2031, 10, 1)))
    r = browser(api, "admin").get("/console/departures")
    assert r.status_code == 200
    row = row_of(r.text, f"placement-{placement_id(m)}")
    assert "Oct 1, 2031" in row and "Abroad" in row and 'href="/console/workers/w1"' in row
    assert f"departure-{m}" not in r.text


def test_departures_are_for_staff_only(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    for who in ("emp1", "wk1"):
        b = browser(api, who)
        r = b.get("/console/departures")
        assert r.status_code == 403 and m not in r.text and "You may not see" in r.text
        r = b.post(f"/console/departures/{m}", {"departure_date": real_today().isoformat()})
        assert r.status_code == 403, who
    assert api.get("rec", "/placements").json()["total"] == 0


# -- follow-up (reintegration triggers) ------------------------------------------------

def fire(api, kind=tev.TriggerKind.WELFARE_CHECK, worker="w1", cause="ret-1",
         due=date(2026, 1, 15), reason="Returned early (health); check on the worker"):
    trigger_id = tev.trigger_id(worker, None, kind.value, cause)
    api.fold(tev.TriggerFired(trigger_id=trigger_id, worker_id=worker, placement_id=None,
                              kind=kind, cause=cause, reason=reason, due_date=due))
    return trigger_id


def test_triggers_are_shown_in_words_and_overdue_ones_marked(api, world):
    late = fire(api)
    later = fire(api, kind=tev.TriggerKind.BUSINESS_SUPPORT, worker="w2", cause="ret-2",
                 due=real_today() + timedelta(days=30), reason="<i>wants a loan</i>")
    r = browser(api, "rec").get("/console/triggers")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert 'for="f-kind"' in r.text and 'for="f-status"' in r.text
    row = row_of(r.text, f"trigger-{late}")
    assert "Welfare check after an early return" in row and "welfare_check" not in row
    assert 'href="/console/workers/w1"' in row and "Jan 15, 2026" in row
    assert "Overdue" in row and "Open" in row
    assert f'for="outcome-{late}"' in row and "Could not be reached" in row
    assert f'hx-post="/console/triggers/{late}/complete"' in row
    assert f'hx-target="#trigger-{late}"' in row
    other = row_of(r.text, f"trigger-{later}")
    assert "Business training and micro-credit" in other and "Overdue" not in other
    assert "&lt;i&gt;wants a loan&lt;/i&gt;" in other
    assert r.text.index(f"trigger-{late}") < r.text.index(f"trigger-{later}")  # due first
    # filtered by kind
    r = browser(api, "rec").get("/console/triggers?kind=business_support&status=open")
    assert f"trigger-{later}" in r.text and f"trigger-{late}" not in r.text
    assert '<option value="business_support" selected>' in r.text
    assert browser(api, "rec").get("/console/triggers?kind=nonsense").status_code == 422


def test_completing_a_trigger_without_javascript(api, world):
    t = fire(api)
    b = browser(api, "rec")
    b.get("/console/triggers")
    r = b.post(f"/console/triggers/{t}/complete", {"outcome": ""})
    assert r.status_code == 422
    row = row_of(r.text, f"trigger-{t}")
    assert f'id="outcome-{t}-error"' in row and "This field is required." in row
    r = b.post(f"/console/triggers/{t}/complete", {"outcome": "service_delivered",
                                                   "note": "visited at home"})
    assert r.status_code == 200 and r.url.path == "/console/triggers"
    assert "Follow-up completed." in r.text and f"trigger-{t}" not in r.text  # open only
    [item] = api.get("rec", "/reintegration/triggers").json()["items"]
    assert (item["status"], item["outcome"]) == ("completed", "service_delivered")
    r = b.get("/console/triggers?status=completed")
    row = row_of(r.text, f"trigger-{t}")
    assert "Completed" in row and "Service delivered" in row and "<form" not in row
    # another outcome afterwards is refused, shown at the row
    r = b.post(f"/console/triggers/{t}/complete", {"outcome": "unreachable"})
    assert r.status_code == 409
    assert "completed already with another outcome" in row_of(r.text, f"trigger-{t}")
    assert api.get("rec", "/reintegration/triggers").json()["items"][0]["outcome"] == (
        "service_delivered")


def test_completing_a_trigger_with_htmx_answers_the_row(api, world):
    t = fire(api)
    b = browser(api, "rec")
    b.get("/console/triggers")
    r = b.post(f"/console/triggers/{t}/complete", {"outcome": ""}, headers=HX)
    assert r.status_code == 200 and "<h1>" not in r.text
    assert r.text.lstrip().startswith(f'<tr id="trigger-{t}"')
    assert "This field is required." in r.text
    r = b.post(f"/console/triggers/{t}/complete", {"outcome": "referred"}, headers=HX)
    assert r.status_code == 200 and "<h1>" not in r.text
    assert "Follow-up completed." in r.text and "Referred elsewhere" in r.text
    assert "Completed" in r.text and "<form" not in r.text
    assert api.get("rec", "/reintegration/triggers").json()["items"][0]["outcome"] == "referred"


def test_triggers_page_is_for_staff_and_only_recruiters_complete(api, world):
    t = fire(api)
    admin = browser(api, "admin")
    r = admin.get("/console/triggers")
    assert r.status_code == 200 and f"trigger-{t}" in r.text
    assert "<form method=\"post\" action=\"/console/triggers/" not in r.text
    assert admin.post(f"/console/triggers/{t}/complete",
                      {"outcome": "referred"}).status_code == 403
    for who in ("emp1", "wk1"):
        b = browser(api, who)
        r = b.get("/console/triggers")
        assert r.status_code == 403 and t not in r.text, who
        assert b.post(f"/console/triggers/{t}/complete",
                      {"outcome": "referred"}).status_code == 403
    assert browser(api, "rec").post("/console/triggers/t-nope/complete",
                                    {"outcome": "referred"}).status_code == 404
    assert api.get("rec", "/reintegration/triggers").json()["items"][0]["status"] == "open"


# -- roster import ---------------------------------------------------------------------

HEADER = ("worker_id,full_name,date_of_birth,passport_number,citizenship,occupations,"
          "available_from,consent_matching\n")
GOOD = "w10,Aram Sargsyan,1991-03-02,AM2000010,AM,6111:3,2027-02-01,yes\n"
BAD = "w11,Lilit Hakobyan,not a date,AM2000011,AM,6111:2,2027-02-01,yes\n"


def upload(b, content, name="roster.csv"):
    b.get("/console/workers/import")
    files = {"file": (name, content.encode(), "text/csv")} if content is not None else None
    return b.client.post("/console/workers/import", data={"csrf_token": b.csrf},
                         files=files or {"file": ("", b"", "application/octet-stream")})


def test_roster_import_shows_the_summary_and_the_row_errors(api, world):
    b = browser(api, "rec")
    r = b.get("/console/workers/import")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert 'enctype="multipart/form-data"' in r.text
    assert 'type="file"' in r.text and 'accept=".csv"' in r.text and 'for="f-file"' in r.text
    r = upload(b, HEADER + GOOD + BAD)
    assert r.status_code == 200
    summary = r.text[r.text.index('id="summary"'):]
    assert "<dt>Imported</dt><dd>1</dd>" in summary
    assert "<dd>0</dd>" in summary  # unchanged
    errors = summary[summary.index("<tbody>"):summary.index("</tbody>")]
    assert errors.count("<tr>") == 1
    assert '<td class="num">3</td>' in errors and "date_of_birth" in errors
    assert "not a date" not in r.text  # a cell's value is never quoted
    assert api.get("rec", "/workers/w10").json()["full_name"] == "Aram Sargsyan"
    assert api.get("rec", "/workers/w11").status_code == 404
    # the error report as CSV: row, field, message and nothing else
    r = b.get("/console/workers/import/errors.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.strip().splitlines()
    assert lines[0] == "row,field,message" and len(lines) == 2
    assert lines[1].startswith("3,date_of_birth,")
    assert "Lilit" not in r.text and "AM2000011" not in r.text
    # the same file again registers nothing twice
    r = upload(b, HEADER + GOOD + BAD)
    assert "<dt>Imported</dt><dd>0</dd>" in r.text
    assert "<dt>Unchanged (registered already)</dt><dd>1</dd>" in r.text


def test_a_file_that_is_not_a_roster_is_refused_at_the_field(api, world):
    b = browser(api, "admin")
    r = upload(b, "name,age\nAram,30\n")
    assert r.status_code == 422
    assert 'id="file-error"' in r.text and "Nothing was written" in r.text
    assert "the header lacks the column full_name" in r.text
    r = upload(b, None)
    assert r.status_code == 422 and "Choose a CSV file to import." in r.text
    # no report of this session to download
    assert b.get("/console/workers/import/errors.csv").status_code == 404


def test_roster_import_is_for_staff_only(api, world):
    for who in ("emp1", "wk1"):
        b = browser(api, who)
        assert b.get("/console/workers/import").status_code == 403, who
        r = upload(b, HEADER + GOOD)
        assert r.status_code == 403, who
        assert b.get("/console/workers/import/errors.csv").status_code == 403
    assert api.get("rec", "/workers/w10").status_code == 404


def test_trigger_reasons_are_words_in_the_page_language(api, world):
    """Every reason the tracker writes (its own functions, so a change of its wording
    fails here) is shown in Armenian and Russian, its dates as the language writes
    them; English pages show the tracker's sentence."""
    from schemas.events.placements import EarlyReturnReason, Intention, Need, ReturnRegistered
    from services.tracker.domain import triggers as tracker
    from services.tracker.domain.dates import Timing

    back = ReturnRegistered(return_id="ret-9", worker_id="w1", return_date=date(2027, 3, 1),
                            intentions=[Intention.START_BUSINESS, Intention.LOCAL_JOB],
                            needs=[Need.CREDIT], skills_acquired=["welding"],
                            early_return_reason=EarlyReturnReason.EMPLOYER_ABUSE)
    specs = [*tracker.on_return(back, date(2027, 4, 1), Timing.EARLY),
             tracker.on_overdue(date(2027, 4, 1), date(2027, 4, 20)),
             tracker.on_long_overdue(date(2027, 4, 1), 14, date(2027, 5, 1)),
             tracker.on_reentry(date(2027, 3, 1), date(2027, 6, 1))]
    assert {s.kind for s in specs} == set(tev.TriggerKind)  # every kind, both of one
    ids = [fire(api, kind=s.kind, cause=f"c-{n}", reason=s.reason, due=s.due_date)
           for n, s in enumerate(specs)]
    english = browser(api, "rec").get("/console/triggers?status=open").text
    for spec, tid in zip(specs, ids, strict=True):
        row = row_of(english, f"trigger-{tid}")
        assert spec.reason.split(": ")[-1] in row and "2027-" not in row
    assert ("Returned on Mar 1, 2027: offer a consultation at the Migration Resource "
            "Centre." in row_of(english, f"trigger-{ids[0]}"))
    for language, march in (("hy", "2027"), ("ru", "1 мар. 2027")):
        page = browser(api, "rec", language).get("/console/triggers?status=open").text
        for spec, tid in zip(specs, ids, strict=True):
            row = row_of(page, f"trigger-{tid}")
            assert spec.reason[:20] not in row, (language, spec.reason)
            assert "2027-" not in row  # no ISO date left
        assert march in row_of(page, f"trigger-{ids[0]}")  # returned on 1 March 2027
