"""The open vacancies of one labour market as columns, so a worker who arrives is
checked against all of them at once instead of one vacancy at a time in Python: the
mirror of :mod:`candidates`, which checks one vacancy against all of a market's
workers.

Each vacancy has a row with what the rules of SPEC 3.3 read of it (origin, the ages
and dates on its start date, experience and languages asked for, required skills)
and its bar: the lowest score among its unreviewed proposals when they are as many
as it keeps (a worker scoring below it changes nothing), or none when there is room.
:meth:`Openings.candidates` names the vacancies whose rules the worker meets and
whose bar its score reaches, computed with the formula of :mod:`scoring` in the same
floating-point operations (a rounding's worth of slack kept). It only narrows the
search: every vacancy it names is checked by the pure rules again (positions and
quota too, which it does not look at), and a vacancy it cannot judge (more distinct
skills in the market than a mask holds) is always named.

The rows are built again when a vacancy comes, goes or changes its terms (rare);
a bar moves in place (often: every proposal made or displaced)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.candidates import ROUNDING_SLACK, SKILL_BITS
from services.matcher.domain.columns import NOT_LISTED
from services.matcher.domain.eligibility import language_needs
from services.matcher.domain.scoring import (
    EXPERIENCE_HALF_YEARS,
    OTHERS_CEILING,
    REHIRE_FLOOR,
    base,
)
from services.matcher.domain.views import VacancyView, WorkerView

NO_BAR = -np.inf  # the bar of a vacancy with room left: every score reaches it


@dataclass
class _Rows:
    """The vacancies' columns, rows in the order of their ids."""

    ids: list[str]
    slot_of: dict[str, int]
    origins: Coded  # each row's origin country
    destinations: Coded
    start_year: NDArray[np.int32]
    start_md: NDArray[np.int32]
    start: NDArray[np.int32]  # ordinal
    min_age: NDArray[np.int32]
    max_age: NDArray[np.int32]
    min_experience: NDArray[np.int32]
    needs: dict[str, NDArray[np.int8]]  # language -> level rank asked (NOT_LISTED: none)
    skill_bit: dict[str, int]
    required: NDArray[np.int64]  # mask of required skills
    required_count: NDArray[np.int64]
    unjudged: NDArray[np.bool_]  # asks for a skill the mask has no bit for
    employers: Coded
    bar: NDArray[np.float64]


class Openings:
    """The open vacancies of one market with a position left, and their bars."""

    def __init__(self) -> None:
        self._views: dict[str, VacancyView] = {}
        self._bars: dict[str, float] = {}
        self._rows: _Rows | None = None  # None: to build again at the next search

    def __len__(self) -> int:
        return len(self._views)

    def set(self, view: VacancyView, bar: float | None) -> None:
        """``view`` open with a position left; ``bar``: the lowest score of its
        proposals when they are as many as it keeps (None: room left, or more)."""
        vacancy_id = view.vacancy_id
        if self._views.get(vacancy_id) is not view:
            self._views[vacancy_id] = view
            self._rows = None
        if bar is None:
            self._bars.pop(vacancy_id, None)
        else:
            self._bars[vacancy_id] = bar
        if self._rows is not None:
            self._rows.bar[self._rows.slot_of[vacancy_id]] = NO_BAR if bar is None else bar

    def remove(self, vacancy_id: str) -> None:
        if self._views.pop(vacancy_id, None) is not None:
            self._bars.pop(vacancy_id, None)
            self._rows = None

    def candidates(self, worker: WorkerView, years: int) -> list[str]:
        """The vacancies (sorted) whose rules ``worker``, with ``years`` of experience
        in the market's occupation, may meet and whose proposals it may enter."""
        if not self._views or not worker.consent_matching or worker.erased or worker.busy:
            return []
        rows = self._rows if self._rows is not None else self._build()
        ok = _eligible(rows, worker, years)
        if not ok.any():
            return []
        values = _scores(rows, worker, years)
        ok &= (values >= rows.bar - ROUNDING_SLACK) | rows.unjudged
        return [rows.ids[slot] for slot in np.flatnonzero(ok)]

    def _build(self) -> _Rows:
        ids = sorted(self._views)
        views = [self._views[v] for v in ids]
        skill_bit: dict[str, int] = {}
        masks, unjudged = [], []
        for view in views:
            mask, judged = 0, True
            for skill in sorted(view.required_skills):
                bit = skill_bit.get(skill)
                if bit is None and len(skill_bit) < SKILL_BITS:
                    bit = skill_bit[skill] = len(skill_bit)
                if bit is None:
                    judged = False
                else:
                    mask |= 1 << bit
            masks.append(mask)
            unjudged.append(not judged)
        needs: dict[str, NDArray[np.int8]] = {}
        for slot, view in enumerate(views):
            for language, level in language_needs(view).items():
                asked = needs.setdefault(language, np.full(len(views), NOT_LISTED, np.int8))
                asked[slot] = level.rank

        def column(value: Any, dtype: Any) -> Any:
            return np.fromiter(map(value, views), dtype, len(views))

        self._rows = _Rows(
            ids=ids, slot_of={v: n for n, v in enumerate(ids)},
            origins=_coded([v.origin_country for v in views]),
            destinations=_coded([v.destination_country for v in views]),
            start_year=column(lambda v: v.start_date.year, np.int32),
            start_md=column(lambda v: v.start_date.month * 100 + v.start_date.day, np.int32),
            start=column(lambda v: v.start_date.toordinal(), np.int32),
            min_age=column(lambda v: v.min_age, np.int32),
            max_age=column(lambda v: v.max_age, np.int32),
            min_experience=column(lambda v: v.min_experience_years, np.int32),
            needs=needs, skill_bit=skill_bit, required=np.array(masks, np.int64),
            required_count=column(lambda v: len(v.required_skills), np.int64),
            unjudged=np.array(unjudged, np.bool_),
            employers=_coded([v.employer_id for v in views]),
            bar=np.array([self._bars.get(v, NO_BAR) for v in ids], np.float64))
        return self._rows


def _eligible(rows: _Rows, worker: WorkerView, years: int) -> NDArray[np.bool_]:
    """Rows whose rules of SPEC 3.3 that depend on the vacancy's terms the worker
    meets (consent, erasure and being busy are the caller's)."""
    ok = _any_of(rows.origins, (worker.citizenship,))
    if worker.preferred_destinations:
        ok &= _any_of(rows.destinations, worker.preferred_destinations)
    ok &= rows.min_experience <= years
    born = worker.date_of_birth
    age = rows.start_year - born.year - (rows.start_md < born.month * 100 + born.day)
    ok &= (age >= rows.min_age) & (age <= rows.max_age)
    for language, asked in rows.needs.items():
        level = worker.languages.get(language)
        ok &= asked <= (NOT_LISTED if level is None else level.rank)
    ok &= rows.start >= worker.available_from.toordinal()
    if worker.reentry_from is not None:
        ok &= rows.start >= worker.reentry_from.toordinal()
    return ok


def _scores(rows: _Rows, worker: WorkerView, years: int) -> NDArray[np.float64]:
    """:func:`scoring.score` of the worker for every row, before rounding: the same
    operations on the same doubles (rows it cannot judge get any value)."""
    mask = 0
    for skill in worker.skills:
        bit = rows.skill_bit.get(skill)
        if bit is not None:
            mask |= 1 << bit
    covered = np.bitwise_count(rows.required & mask).astype(np.int64)
    asks = rows.required_count > 0
    coverage = np.where(asks, covered / np.where(asks, rows.required_count, 1), 1.0)
    extra = np.maximum(0, years - rows.min_experience).astype(np.int64)
    experience = extra / (extra + EXPERIENCE_HALF_YEARS)
    weighted = base(coverage, experience, 1.0 if worker.returned_on_time else 0.0)
    values = OTHERS_CEILING * weighted
    if worker.rehire_employers:
        rehire = _any_of(rows.employers, worker.rehire_employers)
        values = np.where(rehire, REHIRE_FLOOR + (1 - REHIRE_FLOOR) * weighted, values)
    return np.asarray(values, np.float64)


@dataclass(frozen=True)
class Coded:
    """A column of strings as small integers: each row's code, and each value's."""

    codes: NDArray[np.int32]
    of: dict[str, int]


def _coded(values: list[str]) -> Coded:
    of: dict[str, int] = {}
    codes = np.fromiter((of.setdefault(v, len(of)) for v in values), np.int32, len(values))
    return Coded(codes, of)


def _any_of(column: Coded, values: Any) -> NDArray[np.bool_]:
    """The rows that have one of ``values`` (a new array)."""
    ok = np.zeros(len(column.codes), np.bool_)
    for value in values:
        code = column.of.get(value)
        if code is not None:
            ok |= column.codes == code
    return ok
