"""Index of the market shard: for each market, the open vacancies with a position
left, ordered by the experience a worker needs to have any chance of entering
their proposals (:func:`entry_years`), so a worker who arrives is checked only
against the vacancies it could enter, not against every vacancy of its market.

It follows the ``vac:`` records (which vacancies are open, their terms) and the
``m:`` records (each vacancy's unreviewed proposals and their scores) and works out
the entry bar of a changed vacancy lazily, when its market is next asked about. It
only narrows the search: every vacancy it names is still checked by the rules."""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from schemas.events.matches import MatchStatus
from services.matcher.domain.proposals import capacity, entry_years

VAC, MATCH = "vac:", "m:"
NEVER = 10**6  # entry years of a vacancy no experience can enter


class OfferBoard:
    prefixes = (MATCH, VAC)

    def __init__(self, taken: Any, open_market: Any) -> None:
        """``taken``: positions held per vacancy (an index with ``get``);
        ``open_market``: the markets a ``vac:`` record is open for a worker in."""
        self._taken = taken
        self._open_market = open_market
        self._terms: dict[str, tuple[str, str, int, int]] = {}  # market, employer, min, pos
        self._live: dict[str, dict[str, float]] = {}  # vacancy -> worker -> score
        self._dirty: dict[str, set[str]] = {}  # market -> vacancies to look at again
        #: vacancy -> market, employer, entry years (first-timer, on-time returnee)
        self._placed: dict[str, tuple[str, str, int, int]] = {}
        self._by_years: dict[tuple[str, bool], SortedList] = {}
        self._by_employer: dict[tuple[str, str], set[str]] = {}

    def clear(self) -> None:
        for store in (self._terms, self._live, self._dirty, self._placed, self._by_years,
                      self._by_employer):
            store.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if key.startswith(MATCH):
            for record, add in ((old, False), (new, True)):
                if record is not None:
                    self._follow_match(record, add)
        elif key.startswith(VAC):
            vacancy_id = key[len(VAC):]
            previous = self._terms.pop(vacancy_id, None)
            if previous is not None:
                self._touch(previous[0], vacancy_id)
            if new is not None and self._open_market(new):
                vacancy = new["state"]["vacancy"]
                self._terms[vacancy_id] = (new["market"], vacancy["employer_id"],
                                           vacancy["min_experience_years"],
                                           vacancy["positions"])
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

    def could_enter(self, market: str, years: int, returned_on_time: bool,
                    rehire_employers: frozenset[str]) -> list[str]:
        """The open vacancies of ``market`` (with a position left) whose proposals a
        worker with ``years`` of experience in its occupation could enter, sorted."""
        self._refresh(market)
        ordered = self._by_years.get((market, returned_on_time))
        found = set() if ordered is None else {
            vacancy_id for _, vacancy_id in ordered.irange(maximum=(years, "\uffff"))}
        for employer in rehire_employers:
            found |= self._by_employer.get((market, employer), set())
        return sorted(found)

    def _refresh(self, market: str) -> None:
        for vacancy_id in self._dirty.pop(market, ()):
            placed = self._placed.pop(vacancy_id, None)
            if placed is not None:
                self._unplace(vacancy_id, *placed)
            terms = self._terms.get(vacancy_id)
            if terms is None or terms[0] != market:
                continue
            _, employer, minimum, positions = terms
            limit = capacity(positions, self._taken.get(vacancy_id))
            if not limit:
                continue
            live = self._live.get(vacancy_id, {})
            bar = min(live.values()) if len(live) == limit else None  # beyond: re-planned
            years = [entry_years(bar, minimum, back) for back in (False, True)]
            first, returned = (NEVER if y is None else y for y in years)
            self._placed[vacancy_id] = (market, employer, first, returned)
            self._place(vacancy_id, market, employer, first, returned)

    def _place(self, vacancy_id: str, market: str, employer: str, first: int,
               returned: int) -> None:
        for back, years in ((False, first), (True, returned)):
            self._by_years.setdefault((market, back), SortedList()).add((years, vacancy_id))
        self._by_employer.setdefault((market, employer), set()).add(vacancy_id)

    def _unplace(self, vacancy_id: str, market: str, employer: str, first: int,
                 returned: int) -> None:
        for back, years in ((False, first), (True, returned)):
            self._by_years[(market, back)].remove((years, vacancy_id))
        vacancies = self._by_employer[(market, employer)]
        vacancies.discard(vacancy_id)
        if not vacancies:
            del self._by_employer[(market, employer)]
