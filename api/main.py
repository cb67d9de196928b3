"""The gateway application: services, routers, middleware, and start-up.

``create_app(settings)`` builds the services once (:mod:`api.services`: database, Redis,
handoff context, knowledge-base service, retriever) and hands them to routes, timers and the
bot's custom actions. Start-up brings the schema up to date, re-queues open tickets from SQL
(Redis keeps nothing on disk, so the queue may be empty after a restart) and publishes what
the outbox still holds, loads the retrieval index so the first question does not pay for it,
listens for knowledge-base changes made elsewhere (``xiaobao kb import``, another gateway),
and starts the background jobs (:mod:`api.timers`). Shutdown stops the last two.

Run: ``uvicorn --factory api.main:create_app --no-proxy-headers --host 127.0.0.1 --port 8000``
(as the Procfile does): uvicorn's own proxy headers are off, so only
``settings.trusted_proxy_header`` (:func:`api.deps.client_ip`) decides the client's address —
by default uvicorn would believe ``X-Forwarded-For`` from any loopback peer.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from rasa_sdk.executor import ActionExecutor
from starlette.concurrency import run_in_threadpool

from api.conversation import return_to_bot
from api.errors import install_error_handlers
from api.oidc import OidcClient
from api.oidc_simulator import build_simulator, simulator_issuer
from api.routes import (
    actions,
    auth,
    bad_ratings,
    calls,
    chat,
    console,
    console_left_messages,
    console_socket,
    enterprise_auth,
    exports,
    forms,
    gaps,
    health,
    kb,
    kb_drafts,
    kb_files,
    kb_hit_test,
    left_messages,
    my_policies,
    notify_replies,
    pages,
    policies,
    policies_edit,
    policies_files,
    policies_trial,
    register,
    report_clusters,
    report_targets,
    reports,
    tokens,
    worklists,
)
from api.services import Services, build_services
from api.timers import gateway_jobs, run_jobs, simulator_adapter
from api.web_security import WebGuard
from bot.actions import build_actions
from handoff import recovery
from retrieval.sync import start_listener
from xiaobao import redis_clients
from xiaobao.db import upgrade
from xiaobao.redact import install_log_redaction
from xiaobao.secrets import check_production
from xiaobao.settings import Settings, get_settings

log = logging.getLogger("api")
STATIC_DIR = Path(__file__).parent / "static"


def build_action_executor(services: Services) -> ActionExecutor:
    """rasa-sdk's executor with the bot's custom actions, built with this app's services."""
    executor = ActionExecutor()
    for action in build_actions(services):
        executor.register_action(action)
    return executor


async def security_headers(request: Request, call_next) -> Response:
    """No inline script runs and nothing loads from elsewhere: text in messages cannot become
    code."""
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
    services: Services = app.state.services
    settings = services.settings
    upgrade(services.engine)
    report = recovery.recover(services.handoff)
    log.info("handoff recovery at start-up: %s", report)
    kb_listener = kb_redis = None
    if settings.warm_retriever:
        retriever = await run_in_threadpool(lambda: services.retriever)
        # The listener's own connection: a blocking pub/sub read must not hold a pooled one.
        kb_redis = redis_clients.client(settings.redis_url, text=False)
        kb_listener = start_listener(retriever, kb_redis)
    app.state.http = httpx.AsyncClient(timeout=settings.rasa_timeout_s)
    jobs = None
    if settings.background_jobs:
        app.state.jobs = gateway_jobs(services, app.state.call_adapter)
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
        if kb_redis is not None:
            kb_redis.close()
        await app.state.http.aclose()
        await services.aredis.aclose()
        services.close()


def install_identity_provider(app: FastAPI, settings: Settings) -> None:
    """The enterprise sign-in's provider (``app.state.oidc``): the configured issuer; without
    one, outside production, the simulator mounted under /oidc-sim (its issuer this gateway's
    loopback address, which the browser is sent to; the client's own requests — discovery,
    JWKS, token — go to this app in-process, so they work whatever port it really has); in
    production without one, none — sign-in answers 503, for a simulator would let anyone sign
    in as any enterprise."""
    if settings.oidc_issuer:
        app.state.oidc = OidcClient(settings, settings.oidc_issuer)
    elif settings.is_production:
        app.state.oidc = None
    else:
        app.mount("/oidc-sim", build_simulator(settings))
        app.state.oidc = OidcClient(settings, simulator_issuer(settings),
                                    transport=httpx.ASGITransport(app=app))


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    install_log_redaction()  # no phone number or credit code in any log line (once per process)
    settings = settings or get_settings()
    check_production(settings)  # production refuses known or empty secrets, before anything
    services = services or build_services(settings)
    if services.handoff.on_returned is None:  # a closed ticket resumes the bot, asking the 好差评
        services.handoff = services.handoff.replace(
            on_returned=lambda returned: return_to_bot(services, returned))
    app = FastAPI(title="企业管家小宝 gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.settings = settings
    app.state.action_executor = build_action_executor(services)
    app.state.call_adapter = simulator_adapter(settings)  # a CTI/SIP adapter goes here

    # Origin (CSRF), body caps, private /metrics and /openapi.json, HSTS (api/web_security.py).
    # Console sessions are server-side (xiaobao.sessions), read by api.deps.
    app.add_middleware(WebGuard, settings=settings)
    app.middleware("http")(security_headers)
    install_error_handlers(app)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_identity_provider(app, settings)
    for router in (pages.router, auth.router, chat.router, left_messages.router, console.router,
                   console_left_messages.router, console_socket.router, calls.router,
                   actions.router, health.router,
                   enterprise_auth.pages, enterprise_auth.router,
                   kb.router, kb_files.router, kb_hit_test.router, kb_drafts.router,
                   gaps.router, report_clusters.router,
                   report_targets.router, bad_ratings.router,
                   reports.router, exports.router, policies.router,
                   # files and the test panel before the items: /export is not an item's id
                   policies_files.router, policies_trial.router, policies_edit.router,
                   register.router, worklists.router, my_policies.router, forms.router,
                   notify_replies.router, tokens.router):
        app.include_router(router)
    return app
