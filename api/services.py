"""The gateway's collaborators, built once by ``create_app(settings)`` and handed to routes,
timers and the bot's actions (rasa-sdk's executor included). Nothing the gateway runs reaches
for a global: two apps with different settings in one process do not share a database.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import redis
import redis.asyncio as aredis
import redis.asyncio.retry
import redis.retry
from sqlalchemy import Engine

from api.rasa_client import RasaBreaker
from handoff import phone_codes
from handoff.config import HandoffConfig, load_config
from handoff.context import HandoffContext
from knowledge_base.changes import redis_announcer
from knowledge_base.service import KnowledgeBaseService
from policies.priors import PolicyPriors
from xiaobao import redis_clients
from xiaobao.db import make_engine
from xiaobao.settings import Settings

if TYPE_CHECKING:
    from retrieval.service import Retriever


@dataclass
class Services:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    aredis: aredis.Redis
    handoff: HandoffContext
    kb: KnowledgeBaseService
    rasa_http: httpx.Client  # the return-to-bot hook runs in worker threads
    # What enterprises answer in check-ups, counted in aggregate for the planner (the page's
    # route and the chat's action share it).
    policy_priors: PolicyPriors
    # Skips a Rasa that keeps timing out for a while (the chat answers from api/fallback.py).
    rasa_breaker: RasaBreaker = field(default_factory=RasaBreaker)
    _retriever: Retriever | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # At most settings.concurrent_password_checks argon2 checks at once in this process
    # (~64 MB each), so a flood of logins cannot exhaust memory (api/routes/auth.py).
    password_checks: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.password_checks = threading.BoundedSemaphore(
            max(1, self.settings.concurrent_password_checks))

    @property
    def config(self) -> HandoffConfig:
        return self.handoff.config

    @property
    def sms(self) -> phone_codes.SmsSender:
        """The SMS adapter for call-back codes: the centre's gateway, else the simulator."""
        if self.settings.sms_url:
            return phone_codes.HttpSms(self.settings.sms_url, self.settings.sms_token)
        return phone_codes.SimulatedSms(self.redis)

    @property
    def retriever(self) -> Retriever:
        """Built and loaded on first use (the gateway warms it at start-up)."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    from retrieval.service import build_retriever

                    retriever = build_retriever(self.settings, self.engine)
                    retriever.load_or_build()
                    self._retriever = retriever
        return self._retriever

    def use_retriever(self, retriever: Retriever) -> None:
        """Put an already built retriever in place (tests, and the benchmark's shared index)."""
        self._retriever = retriever

    def close(self) -> None:
        self.rasa_http.close()
        self.redis.close()
        self.engine.dispose()


# A Redis that is down must cost a chat turn milliseconds, not seconds: redis-py's defaults
# wait 5 s to connect and retry a refused connection 10 times with back-off (about 4 s a call
# on this machine). One quick retry still rides over a connection Redis closed on restart.


def build_services(settings: Settings) -> Services:
    if settings.database_url is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    client, async_client = redis_clients.gateway_clients(settings.redis_url)
    handoff = HandoffContext(engine=engine, redis=client,
                             config=load_config(settings.handoff_config),
                             max_chars=settings.max_message_chars,
                             handoffs_per_visitor_per_hour=settings.handoffs_per_visitor_per_hour,
                             callbacks_per_phone_per_day=settings.callbacks_per_phone_per_day,
                             handoffs_per_ip_per_hour=settings.handoffs_per_ip_per_hour,
                             callbacks_per_ip_per_hour=settings.callbacks_per_ip_per_hour,
                             call_adapter_timeout_s=settings.call_adapter_timeout_s,
                             sms_verification=settings.callback_sms_verification)
    services = Services(
        settings=settings, engine=engine, redis=client,
        aredis=async_client,
        handoff=handoff,
        kb=KnowledgeBaseService(engine, redis_announcer(client),
                                review_max_age_days=settings.kb_review_max_age_days),
        rasa_http=httpx.Client(timeout=settings.rasa_timeout_s),
        policy_priors=PolicyPriors(client))
    return services  # the gateway adds the hand-back hook (api.main.create_app)
