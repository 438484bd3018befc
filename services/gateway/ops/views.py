"""Liveness, readiness (database and Kafka reachable) and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from services.gateway.routing import GatewayRoute

router = APIRouter(route_class=GatewayRoute, tags=["operations"])
KAFKA_CHECK_TTL = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _kafka_reachable(request: Request) -> bool:
    state = request.app.state
    cached: tuple[float, bool] | None = getattr(state, "kafka_check", None)
    if cached is not None and time.monotonic() - cached[0] < KAFKA_CHECK_TTL:
        return cached[1]
    ok = False
    try:
        client = KafkaAdminClient(bootstrap_servers=state.settings.bootstrap_list,
                                  client_id="circular-gateway-readyz", request_timeout_ms=2000,
                                  bootstrap_timeout_ms=2000)
        try:
            client.list_topics()
            ok = True
        finally:
            client.close()
    except (KafkaError, OSError, ValueError):
        ok = False
    state.kafka_check = (time.monotonic(), ok)
    return ok


@router.get("/readyz", responses={503: {"description": "Not ready"}})
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with request.app.state.read_sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    checks["kafka"] = "ok" if _kafka_reachable(request) else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
