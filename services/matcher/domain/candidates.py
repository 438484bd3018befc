"""Finding the best eligible workers for a vacancy in one labour market without a
scan of the roster. A market's workers are indexed by what filters hardest before
any rule runs:

- only workers who could be proposed at all are in the search lists (consent given,
  not erased, not busy); the others are still known by id;
- by citizenship: a vacancy's agreement has one origin, and only its citizens are
  eligible (SPEC 3.2, 3.3), so the other origins' workers are never looked at;
- within an origin, by date of birth: only those of the right age on the start date
  are looked at.

The remaining rules run on what is left, before scoring. :func:`naive_best` is the
full scan the index is measured and checked against."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Set
from datetime import date, timedelta

from sortedcontainers import SortedList

from services.matcher.domain.eligibility import failures
from services.matcher.domain.scoring import Scored, score
from services.matcher.domain.views import VacancyView, WorkerView


def birth_window(vacancy: VacancyView) -> tuple[date, date]:
    """Born within [first, last] (inclusive) to be min..max years old on the start
    date; one day of slack each way, the exact age is checked after."""
    start = vacancy.start_date
    last = _years_before(start, vacancy.min_age) + timedelta(days=1)
    first = _years_before(start, vacancy.max_age + 1) - timedelta(days=1)
    return first, last


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def searchable(worker: WorkerView) -> bool:
    """Could this worker be proposed for any vacancy at all?"""
    return worker.consent_matching and not worker.erased and not worker.busy


class MarketIndex:
    """The workers of one market: all by id; the searchable ones by citizenship, then
    by date of birth."""

    def __init__(self) -> None:
        self._workers: dict[str, WorkerView] = {}
        self._by_origin: dict[str, SortedList] = {}

    def __len__(self) -> int:
        return len(self._workers)

    def __contains__(self, worker_id: str) -> bool:
        return worker_id in self._workers

    def get(self, worker_id: str) -> WorkerView | None:
        return self._workers.get(worker_id)

    def upsert(self, worker: WorkerView) -> None:
        self.remove(worker.worker_id)
        self._workers[worker.worker_id] = worker
        if searchable(worker):
            births = self._by_origin.get(worker.citizenship)
            if births is None:
                births = self._by_origin[worker.citizenship] = SortedList()
            births.add((worker.date_of_birth, worker.worker_id))

    def remove(self, worker_id: str) -> None:
        old = self._workers.pop(worker_id, None)
        if old is None or not searchable(old):
            return
        births = self._by_origin[old.citizenship]
        births.remove((old.date_of_birth, worker_id))
        if not births:
            del self._by_origin[old.citizenship]

    def searched(self, vacancy: VacancyView) -> Iterable[WorkerView]:
        """The workers a search for ``vacancy`` looks at: searchable citizens of the
        agreement's origin of about the right age."""
        births = self._by_origin.get(vacancy.origin_country)
        if births is None:
            return
        first, last = birth_window(vacancy)
        for _, worker_id in births.irange((first, ""), (last, "\uffff")):
            yield self._workers[worker_id]

    def best(self, vacancy: VacancyView, limit: int, exclude: Set[str] = frozenset(),
             quota_room: bool = True, positions_taken: int = 0) -> list[Scored]:
        return _top(self.searched(vacancy), vacancy, limit, exclude, quota_room,
                    positions_taken)


def naive_best(workers: Iterable[WorkerView], vacancy: VacancyView, limit: int,
               exclude: Set[str] = frozenset(), quota_room: bool = True,
               positions_taken: int = 0) -> list[Scored]:
    """The whole roster, every worker checked and scored."""
    return _top(workers, vacancy, limit, exclude, quota_room, positions_taken)


def _top(workers: Iterable[WorkerView], vacancy: VacancyView, limit: int, exclude: Set[str],
         quota_room: bool, positions_taken: int) -> list[Scored]:
    if limit <= 0:
        return []
    found = (score(w, vacancy) for w in workers if w.worker_id not in exclude
             and not failures(w, vacancy, quota_room=quota_room,
                              positions_taken=positions_taken))
    return heapq.nsmallest(limit, found, key=lambda s: s.rank_key)
