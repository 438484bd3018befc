"""The fault harness, shortened (``make faults`` runs it at full scale): every scenario
against the real broker with the services as OS processes, judged by the verifier
against a run of the same workload without faults. The control run, with duplicate
suppression off, must be caught."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.scenarios import SCENARIOS, Harness, Scale, Skip, cleanup
from tests.support.brokers import Broker

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def harness(broker: Broker) -> Iterator[Harness]:
    h = Harness(broker, Path(tempfile.mkdtemp(prefix="circular-faults-")),
                Scale.named("short"))
    yield h
    cleanup(h)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(harness: Harness, name: str) -> None:
    try:
        result = SCENARIOS[name](harness)
    except Skip as why:
        pytest.skip(str(why))
    v = result.verdict
    summary = (f"{result.title}: lost {v.lost}, duplicated {v.duplicated}, unexpected "
               f"{v.unexpected}, state diff {v.state_diff}, inputs joined "
               f"{v.inputs_joined}/{v.inputs}, checks {result.checks}, "
               f"examples {v.examples}, faults {result.outcome.faults}")
    if result.expect_failure:
        assert not v.ok, "the verifier did not catch the control run: " + summary
    else:
        assert v.ok and all(result.checks.values()), summary
