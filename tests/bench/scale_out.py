"""Matcher workers side by side (part of ``make bench``): the backfill of the
throughput phase, the same records written again under a fresh topic prefix, through
a consumer group of ``n`` matcher workers on the same broker (each with its own
local table files, as on separate machines). Events/s against one worker's in the
same run, timed the same way (from the group's first commit to no lag), so the figure
includes the rebalances while the workers join.
Whether a rebalance under load loses or doubles anything is the fault harness's
``matcher-rebalance`` scenario (``make faults``)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from eventbus.admin import ensure_topics
from schemas.topics import MATCHER_APP, Topic, catalogue
from tests.bench.baseline import produce
from tests.bench.measure import (
    Record,
    idle_rss_mib,
    peak_rss_mib,
    service_env,
    wait_for_lag,
)
from tests.support.processes import ServiceProcess


def run(bootstrap: str, backfill: list[tuple[Topic, list[Record]]], workers: int,
        var: Path, one_worker_eps: float) -> dict[str, Any]:
    prefix = f"scale{uuid.uuid4().hex[:6]}."
    report = ensure_topics(bootstrap, catalogue(prefix))
    assert not report.problems, report.problems
    inputs = []
    for topic, recs in backfill:
        inputs.append(topic.prefixed(prefix).name)
        asyncio.run(produce(bootstrap, inputs[-1], recs))
    internal = [x.prefixed(prefix).name for x in catalogue()
                if x.name.startswith(f"{MATCHER_APP}.") and not x.name.endswith(".dlq")]
    members = []
    for n in range(workers):
        home = var / f"scale-out-{n}"
        members.append(ServiceProcess(f"matcher-{n}", ["services.matcher"],
                                      service_env(bootstrap, prefix, home),
                                      home / "matcher.log").start())
    idle = [idle_rss_mib(m.proc.pid) for m in members if m.proc is not None]
    try:
        seconds = wait_for_lag(bootstrap, f"{prefix}{MATCHER_APP}", inputs + internal, members)
        peaks = [peak_rss_mib(m.proc.pid) for m in members if m.proc is not None]
    finally:
        for m in members:
            m.stop()
    events = sum(len(recs) for _, recs in backfill)
    eps = events / seconds
    result = {"workers": workers, "events": events, "seconds": seconds,
              "events_per_second": eps, "one_worker_eps": one_worker_eps,
              "ratio_to_one": eps / one_worker_eps, "peak_rss_mib": peaks,
              "idle_rss_mib": idle}
    print(f"{workers} matcher workers: {result}", flush=True)
    return result
