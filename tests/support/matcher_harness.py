"""The matcher's four handlers wired as the Kafka topology wires them (one
partition): public events in, internal events routed to the right stage, public
outputs collected in order."""

from __future__ import annotations

from collections import deque
from typing import Any

from eventbus.handlers import Indexes, Output
from schemas import topics as t
from schemas.codec import Decoded, decode, encode
from schemas.events import matches as mv
from schemas.events import vacancies as va
from schemas.events.base import Event
from services.matcher.agreement_router import AgreementRouter
from services.matcher.legality_stage import LegalityShard
from services.matcher.market_stage import MarketShard
from services.matcher.worker_router import WorkerRouter
from tests.support.stage_harness import StageHarness

ENTRY = {
    t.AGREEMENTS.name: "router", t.EMPLOYERS.name: "legality", t.VACANCIES.name: "legality",
    t.WORKERS.name: "workers", t.MATCH_RESPONSES.name: "workers",
    t.MATCH_REVIEWS.name: "market", t.PLACEMENTS.name: "workers", t.TRIGGERS.name: "workers",
}
ROUTES = {
    t.MATCHER_AGREEMENTS_BROADCAST.name: ("legality", "workers"),
    t.MATCHER_MARKET.name: ("market",),
    t.MATCHES.name: ("workers",),
}


class MatcherHarness:
    def __init__(self) -> None:
        legality = LegalityShard(t.VACANCY_STATUS.name, t.MATCHER_MARKET.name)
        workers = WorkerRouter(t.MATCHER_MARKET.name, t.PARTITIONS)
        market = MarketShard(t.MATCHES.name, t.VACANCY_STATUS.name, t.QUOTA.name)
        self.market = market
        self.stages = {
            "router": StageHarness(AgreementRouter(
                t.MATCHER_AGREEMENTS_BROADCAST.name, 1).handle),
            "legality": StageHarness(legality.handle, legality.indexes),
            "workers": StageHarness(workers.handle, workers.indexes, workers.after_batch),
            "market": StageHarness(market.handle, market.indexes),
        }
        self.published: list[Decoded] = []
        self.seen: set[str] = set()

    def send(self, event: Event, *, event_id: str | None = None) -> list[Decoded]:
        """Feed a public event; returns the public events it caused, in order."""
        topic = next(tp.name for tp in t.PUBLIC if type(event) in tp.events)
        enc = encode(event, source="/tests", event_id=event_id)
        return self._run([(ENTRY[topic], decode(enc.value, enc.headers))])

    def restart(self) -> None:
        """Every stage's indexes rebuilt as a restarted worker rebuilds them: from the
        keys under the prefixes they follow only (``Stage.recover``)."""
        for stage in self.stages.values():
            indexes = Indexes(stage.indexes)
            indexes.clear()
            followed = indexes.prefixes
            for key, value in stage.table.items():
                if followed is None or key.startswith(followed):
                    indexes.apply(key, None, value)

    def read_again(self, decoded: Decoded) -> list[Decoded]:
        """A match event the matcher published, read again by the stages that consume
        the matches topic (as after a crash); returns the public events it caused."""
        return self._run([(stage, decoded) for stage in ROUTES[t.MATCHES.name]])

    def _run(self, start: list[tuple[str, Decoded]]) -> list[Decoded]:
        before = len(self.published)
        queue: deque[tuple[str, Decoded]] = deque(start)
        while queue:
            stage, decoded = queue.popleft()
            for out in self.stages[stage].feed(decoded):
                queue.extend(self._route(out))
        return self.published[before:]

    def _route(self, out: Output) -> list[tuple[str, Decoded]]:
        enc = encode(out.event, source="/matcher", event_id=out.event_id)
        decoded = decode(enc.value, enc.headers)
        if out.topic in (t.VACANCY_STATUS.name, t.QUOTA.name, t.MATCHES.name):
            self.published.append(decoded)
        return [(stage, decoded) for stage in ROUTES.get(out.topic, ())]

    # what the gateway would read ---------------------------------------------------

    def matches(self) -> dict[str, dict[str, Any]]:
        """match id -> latest state, folded from the published match events."""
        state: dict[str, dict[str, Any]] = {}
        for d in self.published:
            e = d.event
            if isinstance(e, mv.MatchState):
                row = state.setdefault(e.match_id, {"worker_id": e.worker_id,
                                                    "vacancy_id": e.vacancy_id})
                status = {mv.MatchProposed: "proposed", mv.MatchApproved: "approved",
                          mv.MatchRejected: "rejected", mv.MatchAccepted: "accepted",
                          mv.MatchDeclined: "declined",
                          mv.MatchWithdrawn: "withdrawn"}.get(type(e))
                if status:
                    row["status"] = status
                if isinstance(e, mv.MatchProposed):
                    row["score"] = e.score
                if isinstance(e, mv.MatchWithdrawn):
                    row["reason"] = e.reason.value
                if isinstance(e, mv.MatchApprovalRefused | mv.MatchAcceptanceRefused):
                    row["refused"] = e.reason.value
        return state

    def quota(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """(agreement, occupation, year) -> (used, annual quota), as last published."""
        return {(e.agreement_id, e.isco_code, e.year): (e.used, e.annual_quota)
                for e in self.events(mv.QuotaUsageChanged)}

    def positions_filled(self) -> dict[str, int]:
        """vacancy id -> positions filled, as last published."""
        return {e.vacancy_id: e.positions_filled
                for e in self.events(va.VacancyPositionsChanged)}

    def events(self, cls: type[Any]) -> list[Any]:
        """The published events of one type, in order."""
        return [d.event for d in self.published if isinstance(d.event, cls)]

    def live(self, vacancy_id: str) -> list[str]:
        """Workers proposed for the vacancy now, best score first."""
        rows = [r for r in self.matches().values()
                if r["vacancy_id"] == vacancy_id and r["status"] == "proposed"]
        return [r["worker_id"] for r in sorted(rows, key=lambda r: (-r["score"],
                                                                    r["worker_id"]))]
