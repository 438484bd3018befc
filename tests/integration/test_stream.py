"""GET /api/v1/stream (and the console's /console/stream): server-sent events of what
changed that the caller may read, ids and statuses only. The gateway is served by
uvicorn in a thread (Starlette's TestClient buffers a streamed answer), on SQLite and
PostgreSQL; the projector is simulated by folding events (``api.fold``), its own code
path, which writes the change rows."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from schemas.events import matches as mev
from schemas.events import triggers as tev
from schemas.events.matches import match_id
from schemas.events.vacancies import VacancyPositionsChanged
from services.gateway.app import create_app
from services.gateway.clock.service import real_today
from services.gateway.settings import GatewaySettings
from services.gateway.stream.models import Change
from services.gateway.stream.service import latest_id
from tests.support.console import Browser
from tests.support.gateway import ADMIN, PASSWORD, Api, advance_match, build_world, match_event
from tests.support.serving import served

WAIT = 10.0
#: what an event's data may hold
FIELDS = {"kind", "id", "status", "vacancy_id"}


@dataclass
class Live:
    url: str
    api: Api


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The gateway under uvicorn on a free port, its lifespan run (the stream's poller
    starts there), with the small world of tests/support/gateway.py."""
    settings = GatewaySettings(database_url=database_url, admin_user=ADMIN[0],
                               admin_password=ADMIN[1], jwt_secret="j" * 40,
                               var_dir=tmp_path, topic_prefix="stream.",
                               kafka_bootstrap_servers="127.0.0.1:9",
                               password_hash_memory_kib=1024, password_hash_time_cost=1,
                               stream_poll_seconds=0.05, stream_heartbeat_seconds=0.5)
    app = create_app(settings)
    with served(app, "stream-gateway") as (url, client):
        yield Live(url=url, api=Api(client=client,  # type: ignore[arg-type]
                                    sessions=app.state.sessions))


@dataclass
class Stream:
    """One open stream, read in a thread: its events (and comments) as they come."""

    response: httpx.Response
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        event: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                    self.connected.set()
                elif not line:
                    if "event" in event or "data" in event:
                        self.events.put(event)
                    event = {}
                else:
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        found = self.events.get(timeout=timeout)
        if "data" in found:
            found["json"] = json.loads(found["data"])
        return found

    def until(self, kind: str, entity_id: str, status: str) -> list[dict[str, Any]]:
        """The events up to and with the change named, in order."""
        seen = []
        while True:
            event = self.next()
            seen.append(event)
            data = event.get("json", {})
            if event.get("event") == "change" and (data["kind"], data["id"], data["status"]) \
                    == (kind, entity_id, status):
                return seen

    def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.next(timeout=left))
            except queue.Empty:
                break
        return out


@contextmanager
def stream(live: Live, who: str, last_event_id: str | None = None,
           path: str = "/api/v1/stream", client: httpx.Client | None = None
           ) -> Iterator[Stream]:
    headers = {} if client is not None else live.api.as_(who)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    own = client is None
    client = client or httpx.Client(base_url=live.url, timeout=httpx.Timeout(30, read=None))
    try:
        with client.stream("GET", path, headers=headers) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            s = Stream(response)
            threading.Thread(target=s.read, daemon=True).start()
            assert s.connected.wait(WAIT), "no first comment"
            yield s
    finally:
        if own:
            client.close()


def data_of(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["json"]["kind"], e["json"]["id"], e["json"]["status"])
            for e in events if e.get("event") == "change"]


def test_a_worker_hears_of_its_own_approved_match_and_of_no_other(live):
    api = live.api
    ids = build_world(api)
    with stream(live, "wk1") as wk1:
        advance_match(api, "w2", "v2", "e2", "approved")  # another worker's
        advance_match(api, "w1", "v1", "e1", "approved")
        seen = wk1.until("match", ids["m11"], "approved")
        assert data_of(seen) == [("match", ids["m11"], "approved")]
        assert seen[0]["json"]["vacancy_id"] == "v1"
        api.fold(tev.TriggerFired(  # a trigger of its own: heard of
            trigger_id="t-w1", worker_id="w1", placement_id=None,
            kind=tev.TriggerKind.COUNSELLING_REFERRAL, cause="seed",
            reason="Returned: offer a consultation.", due_date=real_today()))
        assert data_of(wk1.until("trigger", "t-w1", "open")) == [("trigger", "t-w1", "open")]


def test_an_employer_hears_of_the_approval_not_of_the_proposal(live):
    api = live.api
    ids = build_world(api)
    with stream(live, "emp1") as emp1:
        api.fold(match_event(mev.MatchProposed, "w2", "v1", "e1", score=0.7, reasons=[]))
        advance_match(api, "w2", "v2", "e2", "approved")  # another employer's vacancy
        advance_match(api, "w1", "v1", "e1", "approved")
        seen = emp1.until("match", ids["m11"], "approved")
        assert data_of(seen) == [("match", ids["m11"], "approved")]
        advance_match(api, "w1", "v1", "e1", "accepted")
        assert data_of(emp1.until("match", ids["m11"], "accepted"))[-1:] == [
            ("match", ids["m11"], "accepted")]
        # a rejected proposal it never saw stays unheard of; a withdrawn approval is heard
        api.fold(match_event(mev.MatchRejected, "w2", "v1", "e1", reason="not a fit",
                                     reviewed_by="u-rec"))
        advance_match(api, "w1", "v1", "e1", "withdrawn")
        seen = emp1.until("match", ids["m11"], "withdrawn")
        assert data_of(seen) == [("match", ids["m11"], "withdrawn")]


def test_staff_hear_of_everything_or_of_the_kinds_they_ask_for(live):
    api = live.api
    ids = build_world(api)
    with stream(live, "rec") as rec, \
            stream(live, "admin", path="/api/v1/stream?kind=vacancy") as vacancies:
        api.fold(match_event(mev.MatchProposed, "w2", "v1", "e1", score=0.7, reasons=[]))
        advance_match(api, "w2", "v2", "e2", "approved")
        advance_match(api, "w1", "v1", "e1", "approved")
        api.fold(VacancyPositionsChanged(vacancy_id="v1", positions=2,
                                         positions_filled=2))
        seen = rec.until("vacancy", "v1", "filled")
        assert data_of(seen) == [("match", match_id("w2", "v1"), "proposed"),
                                 ("match", ids["m22"], "approved"),
                                 ("match", ids["m11"], "approved"),
                                 ("vacancy", "v1", "filled")]
        assert all(e["event"] == "change" and int(e["id"]) > 0 for e in seen)
        assert data_of(vacancies.until("vacancy", "v1", "filled")) == [
            ("vacancy", "v1", "filled")]


def test_last_event_id_replays_what_was_missed_or_says_reset(live):
    api = live.api
    ids = build_world(api)
    with stream(live, "rec") as rec:
        advance_match(api, "w1", "v1", "e1", "approved")
        first = rec.until("match", ids["m11"], "approved")[-1]
    advance_match(api, "w2", "v2", "e2", "approved")  # missed while away
    advance_match(api, "w1", "v1", "e1", "accepted")
    with stream(live, "rec", last_event_id=first["id"]) as again:
        seen = again.until("match", ids["m11"], "accepted")
        assert data_of(seen) == [("match", ids["m22"], "approved"),
                                 ("match", ids["m11"], "accepted")]
        assert [int(e["id"]) for e in seen] == sorted(int(e["id"]) for e in seen)
        assert int(seen[0]["id"]) > int(first["id"])
    # a worker reconnecting hears again only what it may see
    with stream(live, "wk2", last_event_id=first["id"]) as wk2:
        assert data_of(wk2.until("match", ids["m22"], "approved")) == [
            ("match", ids["m22"], "approved")]
        assert data_of(wk2.quiet()) == []
    # the change it names is no longer kept (pruned): reload
    with api.sessions() as session:
        session.execute(delete(Change).where(Change.id <= int(first["id"])))
        session.commit()
    with stream(live, "rec", last_event_id=first["id"]) as pruned:
        assert pruned.next()["event"] == "reset"


def test_the_sixth_stream_of_a_user_is_429_and_the_heartbeat_comes(live):
    api = live.api
    build_world(api)
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(stream(live, "wk1")) for _ in range(5)]
        r = httpx.get(f"{live.url}/api/v1/stream", headers=api.as_("wk1"), timeout=10)
        assert r.status_code == 429
        assert r.json()["code"] == "too_many_requests"
        with stream(live, "wk2"):  # another user still may
            pass
        time.sleep(1.2)
        assert any("ping" in c for c in streams[0].comments)  # every 0.5 s here
    deadline = time.monotonic() + WAIT  # closed streams give their places back
    while True:
        with httpx.stream("GET", f"{live.url}/api/v1/stream", headers=api.as_("wk1"),
                          timeout=10) as r:
            if r.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed streams were not counted off"
        time.sleep(0.1)


def test_no_token_no_stream_and_a_bad_kind_is_422(live):
    r = httpx.get(f"{live.url}/api/v1/stream", timeout=10)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    r = httpx.get(f"{live.url}/api/v1/stream", timeout=10,
                  headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    build_world(live.api)
    r = httpx.get(f"{live.url}/api/v1/stream?kind=worker", timeout=10,
                  headers=live.api.as_("rec"))
    assert r.status_code == 422
    with stream(live, "rec", last_event_id="not-an-id") as s:  # not one we sent: reload
        assert s.next()["event"] == "reset"
    r = httpx.get(f"{live.url}/console/stream", timeout=10)
    assert r.status_code == 401


def test_no_personal_data_in_any_event(live):
    api = live.api
    ids = build_world(api)
    personal = ["Anahit", "Petrosyan", "AM1000001", "AM1000002", "example.am", "+374",
                "1990-05-17", "Shirak", "consultation"]
    everything = []
    with stream(live, "admin") as admin, stream(live, "wk1") as wk1, \
            stream(live, "emp1") as emp1:
        advance_match(api, "w1", "v1", "e1", "approved", "accepted")
        api.fold(tev.TriggerFired(
            trigger_id="t-w1", worker_id="w1", placement_id=None,
            kind=tev.TriggerKind.COUNSELLING_REFERRAL, cause="seed",
            reason="Returned: offer a consultation.", due_date=real_today()))
        everything += admin.until("trigger", "t-w1", "open")
        everything += wk1.until("trigger", "t-w1", "open")
        everything += emp1.until("match", ids["m11"], "accepted")
    assert everything
    for event in everything:
        assert set(event["json"]) <= FIELDS, event
        assert not any(p in event["data"] for p in personal), event


def test_the_console_stream_follows_the_session(live):
    api = live.api
    ids = build_world(api)
    client = httpx.Client(base_url=live.url, timeout=httpx.Timeout(30, read=None),
                          headers={"accept-language": "en"})
    b = Browser(client)  # type: ignore[arg-type]
    b.get("/console/sign-in")
    r = b.post("/console/sign-in", {"username": "rec", "password": PASSWORD,
                                    "next": "/console/"})
    assert r.status_code == 200 and "Sign out" in r.text
    with stream(live, "rec", path="/console/stream", client=client) as rec:
        advance_match(api, "w1", "v1", "e1", "approved")
        assert data_of(rec.until("match", ids["m11"], "approved"))[-1] == (
            "match", ids["m11"], "approved")
    # what changed between rendering a page and connecting is not missed (``after``)
    with api.sessions() as session:
        rendered = latest_id(session)
    advance_match(api, "w2", "v2", "e2", "approved")
    with stream(live, "rec", path=f"/console/stream?kind=match&after={rendered}",
                client=client) as rec:
        assert data_of(rec.until("match", ids["m22"], "approved")) == [
            ("match", ids["m22"], "approved")]
    # the pages listen to it (htmx's SSE extension) and work without it
    page = b.get("/console/review")
    assert 'sse-connect="/console/stream?kind=match&amp;after=' in page.text
    assert "/console/static/vendor/htmx-ext-sse" in page.text
    part = b.get("/console/review", headers={"HX-Request": "true", "HX-Target": "review-list"})
    assert part.status_code == 200 and "<html" not in part.text
    assert "<h1>" not in part.text  # the list alone (both proposals approved above)
    assert "No proposals are waiting for review." in part.text
    client.close()

