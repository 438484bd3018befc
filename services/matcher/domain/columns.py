"""The searchable workers of one market as columns (numpy arrays, one slot per
worker), so a search checks every rule for every worker at once instead of one
worker at a time in Python.

Fixed columns hold what every search reads (date of birth, citizenship, dates,
an on-time return). Columns that depend on the vacancy (experience in an
occupation, a language level, a required skill, openness to a destination) are
made the first time a search needs them and kept current from then on, so a
market pays only for the occupations, languages and skills its vacancies ask
about. A removed worker's slot is filled by the last one, so the columns stay
dense.

A worker added gets its slot at once, its values in the columns when they are next
read (or a worker removed), for every worker added since in one pass per column: a
recovery or a backfill adds hundreds of thousands of workers between two searches,
and one value written at a time into each of a dozen arrays was most of a restart's
time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.matcher.domain.views import WorkerView

NOT_LISTED = -1  # experience or language level of a worker who lists none
INITIAL_CAPACITY = 16
#: up to this many workers added since the columns were read are filled one at a time
#: (a live change: building an array for each column costs more than that)
ONE_BY_ONE = 8

#: name -> (dtype, value of the worker in that column)
Fixed = dict[str, tuple[Any, Callable[[WorkerView], Any]]]


def _md(day: Any) -> int:
    return int(day.month * 100 + day.day)


FIXED: Fixed = {
    "birth_year": (np.int16, lambda w: w.date_of_birth.year),
    "birth_md": (np.int16, lambda w: _md(w.date_of_birth)),
    "available_from": (np.int32, lambda w: w.available_from.toordinal()),
    "reentry_from": (np.int32, lambda w: w.reentry_from.toordinal() if w.reentry_from else 0),
    "returned_on_time": (np.bool_, lambda w: w.returned_on_time),
}


class Columns:
    """Workers by slot. ``column(name, dtype, value)`` gives a derived column, made
    from every slot's worker on first use and filled for each worker added later."""

    #: slots below this hold their worker's values in every column
    _filled = 0

    def __init__(self) -> None:
        self.size = 0
        self._capacity = INITIAL_CAPACITY
        self.workers: list[WorkerView] = []
        self.slot_of: dict[str, int] = {}
        self._arrays: dict[str, NDArray[Any]] = {
            name: np.zeros(self._capacity, dtype) for name, (dtype, _) in FIXED.items()}
        self._derived: dict[str, Callable[[WorkerView], Any]] = {}
        self._origins: dict[str, int] = {}
        self._arrays["origin"] = np.zeros(self._capacity, np.int16)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[WorkerView]:
        return iter(self.workers)

    def get(self, worker_id: str) -> WorkerView | None:
        slot = self.slot_of.get(worker_id)
        return None if slot is None else self.workers[slot]

    def origin_code(self, country: str) -> int | None:
        self._fill_added()
        return self._origins.get(country)

    def fixed(self, name: str) -> NDArray[Any]:
        self._fill_added()
        return self._arrays[name][:self.size]

    def column(self, name: str, dtype: Any, value: Callable[[WorkerView], Any]
               ) -> NDArray[Any]:
        self._fill_added()
        array = self._arrays.get(name)
        if array is None:
            array = np.zeros(self._capacity, dtype)
            if self.size:
                array[:self.size] = np.fromiter((value(w) for w in self.workers), dtype,
                                                count=self.size)
            self._arrays[name] = array
            self._derived[name] = value
        return array[:self.size]

    def add(self, worker: WorkerView) -> None:
        if self.size == self._capacity:
            self._grow()
        slot = self.size
        self.size += 1
        self.workers.append(worker)
        self.slot_of[worker.worker_id] = slot

    def remove(self, worker_id: str) -> None:
        self._fill_added()
        slot = self.slot_of.pop(worker_id)
        last = self.size - 1
        moved = self.workers.pop()
        if slot != last:
            self.workers[slot] = moved
            self.slot_of[moved.worker_id] = slot
            for array in self._arrays.values():
                array[slot] = array[last]
        self.size = self._filled = last

    def _fill_added(self) -> None:
        """Each column's values of the workers added since the columns were last read."""
        start, end = self._filled, self.size
        if end - start <= ONE_BY_ONE:  # a live change or two: no arrays built for them
            for slot in range(start, end):
                self._fill(slot, self.workers[slot])
            self._filled = end
            return
        added, count, arrays = self.workers[start:end], end - start, self._arrays
        for name, (dtype, value) in FIXED.items():
            arrays[name][start:end] = np.fromiter(map(value, added), dtype, count)
        origins = self._origins
        arrays["origin"][start:end] = np.fromiter(
            (origins.setdefault(w.citizenship, len(origins)) for w in added), np.int16, count)
        for name, value in self._derived.items():
            arrays[name][start:end] = np.fromiter(map(value, added), arrays[name].dtype, count)
        self._filled = end

    def _fill(self, slot: int, worker: WorkerView) -> None:
        arrays = self._arrays
        for name, (_, value) in FIXED.items():
            arrays[name][slot] = value(worker)
        arrays["origin"][slot] = self._origins.setdefault(worker.citizenship,
                                                          len(self._origins))
        for name, value in self._derived.items():
            arrays[name][slot] = value(worker)

    def _grow(self) -> None:
        self._capacity *= 2
        for name, array in self._arrays.items():
            grown = np.zeros(self._capacity, array.dtype)
            grown[:self.size] = array[:self.size]
            self._arrays[name] = grown
