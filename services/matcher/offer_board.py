"""Index of the market shard: for each market, the open vacancies with a position
left as columns (:class:`Openings`), so a worker who arrives is checked against all
of them at once and then only against the few whose rules it meets and whose
proposals it could enter, not against every vacancy of its market one at a time.

It follows the ``vac:`` records (which vacancies are open, in which market) and the
``m:`` records (each vacancy's unreviewed proposals and their scores) and works out
a changed vacancy's row lazily, when its market is next asked about, with the terms
the caller reads for it (parsed once by the shard; the board keeps no record). It
only narrows the search: every vacancy it names is still checked by the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.events.matches import MatchStatus
from services.matcher.domain.openings import Openings
from services.matcher.domain.proposals import capacity
from services.matcher.domain.views import VacancyView, WorkerView

VAC, MATCH = "vac:", "m:"


class OfferBoard:
    prefixes = (MATCH, VAC)

    def __init__(self, taken: Any, open_market: Any) -> None:
        """``taken``: positions held per vacancy (an index with ``get``);
        ``open_market``: the markets a ``vac:`` record is open for a worker in."""
        self._taken = taken
        self._open_market = open_market
        self._open: dict[str, str] = {}  # open vacancy -> its market
        self._live: dict[str, dict[str, float]] = {}  # vacancy -> worker -> score
        self._dirty: dict[str, set[str]] = {}  # market -> vacancies to look at again
        self._markets: dict[str, Openings] = {}

    def clear(self) -> None:
        for store in (self._open, self._live, self._dirty, self._markets):
            store.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if key.startswith(MATCH):
            for record, add in ((old, False), (new, True)):
                if record is not None:
                    self._follow_match(record, add)
        elif key.startswith(VAC):
            vacancy_id = key[len(VAC):]
            previous = self._open.pop(vacancy_id, None)
            if previous is not None:
                self._touch(previous, vacancy_id)
            if new is not None and self._open_market(new):
                self._open[vacancy_id] = new["market"]
                self._touch(new["market"], vacancy_id)

    def _follow_match(self, record: dict[str, Any], add: bool) -> None:
        vacancy_id = record["vacancy_id"]
        if record["status"] == MatchStatus.PROPOSED:
            live = self._live.setdefault(vacancy_id, {})
            if add:
                live[record["worker_id"]] = record["score"]
            else:
                live.pop(record["worker_id"], None)
                if not live:
                    del self._live[vacancy_id]
        self._touch(record["market"], vacancy_id)

    def _touch(self, market: str, vacancy_id: str) -> None:
        self._dirty.setdefault(market, set()).add(vacancy_id)

    def live(self, vacancy_id: str) -> dict[str, float]:
        """The vacancy's unreviewed proposals: worker -> score."""
        return dict(self._live.get(vacancy_id, {}))

    def outranked(self, vacancy_id: str, score: float, limit: int) -> bool:
        """Whether a worker new to the vacancy with ``score`` stays out of proposals
        held at exactly ``limit``, all scoring above it (so the plan changes nothing;
        beyond the limit it would still withdraw the lowest)."""
        live = self._live.get(vacancy_id)
        return live is not None and len(live) == limit and score < min(live.values())

    def could_enter(self, market: str, worker: WorkerView, years: int,
                    view_of: Callable[[str], VacancyView | None]) -> list[str]:
        """The open vacancies of ``market`` (with a position left) whose rules
        ``worker``, with ``years`` of experience in its occupation, may meet and whose
        proposals it could enter, sorted. ``view_of``: an open vacancy's terms now."""
        self._refresh(market, view_of)
        openings = self._markets.get(market)
        return [] if openings is None else openings.candidates(worker, years)

    def _refresh(self, market: str, view_of: Callable[[str], VacancyView | None]) -> None:
        dirty = self._dirty.pop(market, ())
        if not dirty:
            return
        openings = self._markets.get(market)
        if openings is None:
            openings = self._markets[market] = Openings()
        for vacancy_id in dirty:
            view = view_of(vacancy_id) if self._open.get(vacancy_id) == market else None
            limit = 0 if view is None else capacity(view.positions,
                                                    self._taken.get(vacancy_id))
            if view is None or not limit:
                openings.remove(vacancy_id)
                continue
            live = self._live.get(vacancy_id, {})
            # beyond the limit (positions filled since): re-planned, no bar
            openings.set(view, min(live.values()) if len(live) == limit else None)
        if not openings:
            del self._markets[market]
