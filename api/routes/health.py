"""Liveness and metrics: ``/healthz`` says whether the database and Redis answer."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import EngineDep, RedisDep

router = APIRouter(tags=["health"])
log = logging.getLogger("api")


@router.get("/healthz")
def healthz(engine: EngineDep, redis: RedisDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        log.warning("health: database: %s", exc)
        checks["database"] = "down"
    try:
        redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("health: redis: %s", exc)
        checks["redis"] = "down"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


@router.get("/metrics", response_class=PlainTextResponse)  # documented as text/plain
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
