"""Finding the best eligible workers for a vacancy in one labour market without a
scan of the roster in Python. A market's workers are kept once each:

- the ones that could not be proposed at all (without consent, erased or busy) by
  id, known but never searched;
- the searchable ones as columns (:mod:`services.matcher.domain.columns`, which also
  find each by id through its slot: a national roster puts every worker in several
  markets, so a second mapping by id would cost a dict entry per worker and market),
  where one search checks every rule of SPEC 3.3 that depends on the worker for all
  of them at once and computes their scores with the formula of :mod:`scoring`, in
  the same floating-point operations, so the numbers are the ones :func:`score`
  gives.

Only the few workers that can be among the best are then checked and scored by the
pure rules themselves (:func:`failures`, :func:`score`), which stay the single
source of truth; if they ever disagreed with the columns, the search falls back to
checking every worker of the market with them (counted in ``fallbacks``).
:func:`naive_best` is the full scan the index is measured and checked against."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Set
from datetime import date, timedelta
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from schemas.events.matches import split_market
from services.matcher.domain.columns import NOT_LISTED, Columns
from services.matcher.domain.eligibility import failures, language_needs
from services.matcher.domain.scoring import (
    EXPERIENCE_HALF_YEARS,
    OTHERS_CEILING,
    REHIRE_FLOOR,
    SCORE_DECIMALS,
    Scored,
    base,
    score,
)
from services.matcher.domain.views import VacancyView, WorkerView

#: what rounding to six decimals can move a score by, with room to spare
ROUNDING_SLACK = 1e-6


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


#: skills get a bit of a worker's skill mask in the order a market first sees them;
#: the rare market with more distinct skills keeps a column for each further one
SKILL_BITS = 63


class MarketIndex:
    """The workers of one market: all by id; the searchable ones as columns.
    ``market`` (``<destination>-<isco>``), when given, makes the columns every search
    of that market reads (experience in its occupation, openness to its destination)
    as workers arrive instead of at the first search."""

    def __init__(self, market: str | None = None) -> None:
        self._others: dict[str, WorkerView] = {}  # the workers no search looks at
        self._columns = Columns()
        self._rehire: dict[str, set[str]] = {}  # employer -> searchable re-hires
        self._skill_bit: dict[str, int] = {}
        self._columns.column("skills", np.int64, self._skill_mask)
        if market is not None:
            destination, isco_code = split_market(market)
            self._experience(isco_code)
            self._open_to(destination)
        self.fallbacks = 0

    def __len__(self) -> int:
        return len(self._columns) + len(self._others)

    def __contains__(self, worker_id: str) -> bool:
        return self.get(worker_id) is not None

    def __iter__(self) -> Iterator[WorkerView]:
        return chain(self._columns, self._others.values())

    def get(self, worker_id: str) -> WorkerView | None:
        found = self._columns.get(worker_id)
        return found if found is not None else self._others.get(worker_id)

    def upsert(self, worker: WorkerView) -> None:
        self.remove(worker.worker_id)
        if searchable(worker):
            self._columns.add(worker)
            for employer in worker.rehire_employers:
                self._rehire.setdefault(employer, set()).add(worker.worker_id)
        else:
            self._others[worker.worker_id] = worker

    def remove(self, worker_id: str) -> None:
        if self._others.pop(worker_id, None) is not None:
            return
        old = self._columns.get(worker_id)
        if old is None:
            return
        self._columns.remove(worker_id)
        for employer in old.rehire_employers:
            rehires = self._rehire[employer]
            rehires.discard(worker_id)
            if not rehires:
                del self._rehire[employer]

    def searched(self, vacancy: VacancyView) -> Iterator[WorkerView]:
        """The workers a search for ``vacancy`` looks at closely: searchable citizens
        of the agreement's origin of the right age who pass every other rule."""
        workers = self._columns.workers
        for slot in np.flatnonzero(self._eligible(vacancy)):
            yield workers[slot]

    def best(self, vacancy: VacancyView, limit: int, exclude: Set[str] = frozenset(),
             quota_room: bool = True, positions_taken: int = 0) -> list[Scored]:
        if limit <= 0 or not quota_room or positions_taken >= vacancy.positions:
            return []
        eligible = self._eligible(vacancy)
        slot_of = self._columns.slot_of
        for worker_id in exclude:
            slot = slot_of.get(worker_id)
            if slot is not None:
                eligible[slot] = False
        slots = np.flatnonzero(eligible)
        if not slots.size:
            return []
        values = self._scores(vacancy, slots)
        if slots.size > limit:  # keep what can be among the best ``limit``
            kth = np.partition(values, slots.size - limit)[slots.size - limit]
            keep = values >= kth - ROUNDING_SLACK
            slots, values = slots[keep], values[keep]
        workers = self._columns.workers
        ranked = heapq.nsmallest(limit, zip((-round(float(v), SCORE_DECIMALS) for v in values),
                                            (workers[s].worker_id for s in slots),
                                            slots.tolist(), strict=True))
        found = [score(workers[slot], vacancy) for _, _, slot in ranked]
        if any(s.score != -key for s, (key, _, _) in zip(found, ranked, strict=True)) or any(
                failures(workers[slot], vacancy) for _, _, slot in ranked):
            self.fallbacks += 1  # the columns and the rules disagree: trust the rules
            return naive_best(self, vacancy, limit, exclude, quota_room,
                              positions_taken)
        return found

    def _eligible(self, vacancy: VacancyView) -> NDArray[np.bool_]:
        """Slots of the searchable workers who meet every rule of SPEC 3.3 that
        depends on the worker (the vacancy's positions and quota are checked by the
        caller)."""
        cols = self._columns
        origin = cols.origin_code(vacancy.origin_country)
        if origin is None or not len(cols):
            return np.zeros(len(cols), np.bool_)
        start = vacancy.start_date
        ok = cols.fixed("origin") == origin
        ok &= self._experience(vacancy.isco_code) >= vacancy.min_experience_years
        age = (start.year - cols.fixed("birth_year")
               - (start.month * 100 + start.day < cols.fixed("birth_md")))
        ok &= (age >= vacancy.min_age) & (age <= vacancy.max_age)
        for language, level in language_needs(vacancy).items():
            ok &= self._language(language) >= level.rank
        ok &= cols.fixed("available_from") <= start.toordinal()
        ok &= cols.fixed("reentry_from") <= start.toordinal()
        ok &= self._open_to(vacancy.destination_country)
        return ok

    def _scores(self, vacancy: VacancyView, slots: NDArray[Any]) -> NDArray[np.float64]:
        """:func:`score` of the workers in ``slots``, before rounding: the same
        operations on the same doubles."""
        required = sorted(vacancy.required_skills)
        if required:
            covered = np.zeros(slots.size, np.int64)
            masks = self._columns.fixed("skills")[slots]
            for skill in required:
                bit = self._skill_bit.get(skill)
                if bit is None:
                    covered += self._skill(skill)[slots]
                else:
                    covered += (masks >> bit) & 1
            coverage: Any = covered / len(required)
        else:
            coverage = 1.0
        extra = np.maximum(0, self._experience(vacancy.isco_code)[slots].astype(np.int64)
                           - vacancy.min_experience_years)
        experience = extra / (extra + EXPERIENCE_HALF_YEARS)
        returned = self._columns.fixed("returned_on_time")[slots].astype(np.float64)
        weighted = base(coverage, experience, returned)
        values = OTHERS_CEILING * weighted
        rehires = self._rehire.get(vacancy.employer_id)
        if rehires:
            slot_of = self._columns.slot_of
            marked = np.isin(slots, [slot_of[w] for w in rehires])
            values = np.where(marked, REHIRE_FLOOR + (1 - REHIRE_FLOOR) * weighted, values)
        return np.asarray(values, np.float64)

    def _experience(self, isco_code: str) -> NDArray[np.int16]:
        return self._columns.column(f"exp:{isco_code}", np.int16,
                                    lambda w: w.occupations.get(isco_code, NOT_LISTED))

    def _language(self, language: str) -> NDArray[np.int8]:
        return self._columns.column(f"lang:{language}", np.int8, lambda w: _level(w, language))

    def _skill_mask(self, worker: WorkerView) -> int:
        mask = 0
        bits = self._skill_bit
        for skill in worker.skills:
            bit = bits.get(skill)
            if bit is None and len(bits) < SKILL_BITS:
                # first seen now: no worker before had it, so no mask before lacks it
                bit = bits[skill] = len(bits)
            if bit is not None:
                mask |= 1 << bit
        return mask

    def _skill(self, skill: str) -> NDArray[np.int8]:
        """A skill the mask has no bit for: a column of its own."""
        return self._columns.column(f"skill:{skill}", np.int8, lambda w: skill in w.skills)

    def _open_to(self, destination: str) -> NDArray[np.bool_]:
        return self._columns.column(f"dest:{destination}", np.bool_, lambda w: (
            not w.preferred_destinations or destination in w.preferred_destinations))


def _level(worker: WorkerView, language: str) -> int:
    level = worker.languages.get(language)
    return NOT_LISTED if level is None else level.rank


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
