"""Prometheus metrics of one gateway app (its own registry, no module globals).

With several API processes behind one port (``CIRCULAR_API_WORKERS``), a scrape
reaches any one of them, so the request counters and latencies are kept in
prometheus_client's multiprocess mode: each process writes its own to files in
``PROMETHEUS_MULTIPROC_DIR`` (the API's supervisor makes a fresh directory and sets
it before the processes start) and a scrape sums the files of all of them. The
outbox backlog and the projector's lag are read from the database at scrape time,
the same from any process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.outbox.service import backlog
from services.gateway.routing import route_template

#: set (to a directory) in every API process when there are several
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()  # what a scrape returns
        shared = os.environ.get(MULTIPROC_DIR)
        # several processes: the metrics go to their files, a scrape reads them all
        own = None if shared else self.registry
        self.requests = Counter("circular_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=own)
        self.latency = Histogram("circular_http_request_duration_seconds", "HTTP latency",
                                 ["method", "route"], registry=own,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        if shared:
            MultiProcessCollector(self.registry, path=shared)
        self.registry.register(BacklogCollector(sessions))
        self.registry.register(LagCollector(sessions))


class BacklogCollector(Collector):
    """Outbox rows not yet published, counted at scrape time."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.read = _counted(sessions, backlog)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("circular_outbox_backlog", "Outbox rows not yet published",
                                value=self.read())


class LagCollector(Collector):
    """The projector's lag per topic, read from the table it keeps, at scrape time."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from services.gateway.projections.models import ConsumerLag

        family = GaugeMetricFamily("circular_projector_lag_records",
                                   "Records the projector has yet to read, per topic",
                                   labels=["topic"])
        try:
            with self.sessions() as session:
                totals: dict[str, int] = {}
                for row in session.scalars(select(ConsumerLag)):
                    totals[row.topic] = totals.get(row.topic, 0) + row.lag
        except Exception:  # a scrape must not fail because the database is down
            totals = {}
        for topic, lag in sorted(totals.items()):
            family.add_metric([topic], float(lag))
        yield family


def _counted(sessions: sessionmaker[Session],
             count: Callable[..., int]) -> Callable[[], float]:
    def read() -> float:
        try:
            with sessions() as session:
                return float(count(db_session=session))
        except Exception:  # a scrape must not fail because the database is down
            return float("nan")
    return read


#: the methods counted by name; any other a client sends is counted as ``other``, so
#: the labels stay bounded whatever the requests
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        #: the counter's and the histogram's series of a method, route and status:
        #: prometheus_client takes a lock and checks the labels on each ``labels()``
        #: (a third of this middleware's time); there are at most methods x routes x
        #: statuses of them
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_template(scope)
            key = (method, route, status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (
                    self.metrics.requests.labels(method, route, str(status)),
                    self.metrics.latency.labels(method, route))
            series[0].inc()
            series[1].observe(time.perf_counter() - started)

