"""The gateway application: routers, middleware, and start-up.

Start-up brings the schema up to date, re-queues open tickets from SQL (Redis
keeps nothing on disk, so the queue may be empty after a restart), loads the
retrieval index so the first question does not pay for it, listens for knowledge-base
changes made elsewhere (``xiaobao kb import``, another gateway), and starts the
background jobs (:mod:`api.timers`). Shutdown stops the last two.

Run: ``uvicorn --factory api.main:create_app --host 127.0.0.1 --port 8000``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import redis
import redis.asyncio as aredis
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from rasa_sdk.executor import ActionExecutor
from starlette.middleware.sessions import SessionMiddleware

from api.errors import install_error_handlers
from api.routes import actions, auth, calls, chat, health, helpers, pages
from api.timers import gateway_jobs, run_jobs, simulator_adapter
from handoff import recovery
from handoff.config import load_config
from retrieval.service import get_retriever
from retrieval.sync import start_listener
from xiaobao.db import make_engine, upgrade
from xiaobao.settings import Settings, get_settings

log = logging.getLogger("api")
STATIC_DIR = Path(__file__).parent / "static"


def build_action_executor() -> ActionExecutor:
    """rasa-sdk's executor with the bot's custom actions, served in this process (shared index)."""
    executor = ActionExecutor()
    executor.register_package("bot.actions")
    return executor


async def security_headers(request: Request, call_next) -> Response:
    """No inline script runs and nothing loads from elsewhere: text in messages cannot become code."""
    response = await call_next(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    upgrade(app.state.engine)
    report = recovery.recover(app.state.engine, app.state.redis, app.state.handoff_config)
    log.info("handoff recovery at start-up: %s", report)
    kb_listener = kb_redis = None
    if settings.warm_retriever:
        retriever = get_retriever()
        # The listener's own connection: a blocking pub/sub read must not hold a pooled one.
        kb_redis = redis.Redis.from_url(settings.redis_url)
        kb_listener = start_listener(retriever, kb_redis)
    app.state.http = httpx.AsyncClient(timeout=settings.rasa_timeout_s)
    jobs = None
    if settings.background_jobs:
        app.state.jobs = gateway_jobs(app)
        jobs = asyncio.create_task(run_jobs(app.state.jobs), name="gateway-jobs")
    try:
        yield
    finally:
        if jobs is not None:
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
        if kb_listener is not None:
            kb_listener.set()
            kb_redis.close()
        await app.state.http.aclose()
        await app.state.aredis.aclose()
        app.state.redis.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="企业管家小宝 gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    if settings.database_url is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    app.state.engine = make_engine(settings.db_url)
    app.state.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    app.state.aredis = aredis.Redis.from_url(settings.redis_url, decode_responses=True)
    app.state.action_executor = build_action_executor()
    app.state.handoff_config = load_config(settings.handoff_config)
    app.state.call_adapter = simulator_adapter(settings)  # a CTI/SIP adapter goes here

    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret_key, session_cookie=settings.session_cookie,
        max_age=settings.session_max_age_s, same_site="strict", https_only=settings.secure_cookies,
    )
    app.middleware("http")(security_headers)
    install_error_handlers(app)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (pages.router, auth.router, chat.router, helpers.router, helpers.socket_router,
                   calls.router, actions.router, health.router):
        app.include_router(router)
    return app
