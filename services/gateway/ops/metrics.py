"""Prometheus metrics of one gateway app (its own registry, no module globals)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.outbox.service import backlog


class Metrics:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("circular_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("circular_http_request_duration_seconds", "HTTP latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        outbox = Gauge("circular_outbox_backlog", "Outbox rows not yet published",
                       registry=self.registry)
        outbox.set_function(_counted(sessions, backlog))


def _counted(sessions: sessionmaker[Session],
             count: Callable[..., int]) -> Callable[[], float]:
    def read() -> float:
        try:
            with sessions() as session:
                return float(count(db_session=session))
        except Exception:  # a scrape must not fail because the database is down
            return float("nan")
    return read


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(
                time.perf_counter() - started)
