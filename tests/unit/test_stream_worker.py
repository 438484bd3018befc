"""A stream worker runs with the switch interval its settings give (eventbus.worker)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from eventbus import worker
from eventbus.settings import StreamSettings


class _Worker:
    """Stands in for faust's worker: records the interval it would have run with."""

    ran_with: list[float] = []

    def __init__(self, app: Any, **options: Any) -> None:
        self.grace_seconds = 0.0

    def execute_from_commandline(self) -> None:
        self.ran_with.append(sys.getswitchinterval())


@pytest.fixture
def fake_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    before = sys.getswitchinterval()
    monkeypatch.setattr(worker, "Worker", _Worker)
    monkeypatch.setattr(worker.collector, "install", lambda: None)
    monkeypatch.setattr(worker.signal, "signal", lambda *a: None)
    _Worker.ran_with = []
    yield _Worker.ran_with
    sys.setswitchinterval(before)


def test_the_worker_runs_with_the_settings_switch_interval(fake_worker: list[float]) -> None:
    settings = StreamSettings()
    worker.run_worker(object(), "WARNING", 1.0, settings.switch_interval_ms)  # type: ignore[arg-type]
    assert fake_worker == [pytest.approx(0.0005)]


def test_without_one_the_interpreter_keeps_its_own(fake_worker: list[float]) -> None:
    sys.setswitchinterval(0.005)
    worker.run_worker(object(), "WARNING", 1.0)  # type: ignore[arg-type]
    assert fake_worker == [pytest.approx(0.005)]


@pytest.mark.parametrize("ms", ["0", "0.05", "500"])
def test_a_switch_interval_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                   ms: str) -> None:
    monkeypatch.setenv("CIRCULAR_SWITCH_INTERVAL_MS", ms)
    with pytest.raises(ValidationError, match="switch_interval_ms"):
        StreamSettings()
