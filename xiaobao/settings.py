"""The one settings object. Nothing else in the project reads ``os.environ``.

Every value comes from an environment variable (prefix ``XIAOBAO_`` unless
named otherwise) with a default that works on a fresh machine: SQLite and the
index under ``XIAOBAO_HOME`` (``./var``), Redis on 127.0.0.1:6379.
"""
from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = "secrets.json"  # under XIAOBAO_HOME, mode 600, written by `xiaobao secrets ensure`
# The secrets, and the defaults that ship in this source (known to everyone: a development
# convenience that production mode refuses).
SECRET_DEFAULTS = {
    "secret_key": "dev-secret-change-me",
    "call_callback_secret": "dev-callback-secret-change-me",
    "rasa_token": "xiaobao-dev-token",
    "action_token": "xiaobao-dev-action-token",
}

OIDC_SIMULATOR_SECRET = "dev-oidc-simulator-secret"  # the simulator provider's client secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOBAO_", extra="ignore")

    home: Path = Field(default=REPO_ROOT / "var")
    database_url: str | None = None
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "XIAOBAO_REDIS_URL"),
    )
    # Redis behind Sentinel (a primary, its replicas, three Sentinels): comma-separated
    # host:port of the Sentinels and the primary's name. When set they are used instead of
    # REDIS_URL (only its database number is kept): redis_url becomes the factory's
    # redis+sentinel:// address (xiaobao/redis_clients.py), so no caller changes.
    redis_sentinels: str = ""
    redis_sentinel_master: str = "xiaobao"
    redis_sentinel_password: str = ""
    redis_password: str = ""  # the primary's (and replicas'); REDIS_URL may carry its own

    # Embedding model: converted once by `xiaobao model install` into <home>/models/.
    embedding_model_dir: Path | None = None
    embedding_batch_size: int = 32
    # The adapted encoder (`xiaobao model adapt`) is used when it beat the base model on
    # held-out entries; off: always the base model.
    use_adapted_model: bool = True
    adapted_models_root: Path | None = None
    # What runs the encoder: "onnx" (ONNX Runtime on the exported graph, the same vectors at
    # half the time per query) or "torch" (sentence-transformers).
    encoder_backend: Literal["onnx", "torch"] = "onnx"
    # Encoder threads (torch's or ONNX Runtime's). One: measured on 2 cores (torch), a second
    # thread halves single-query latency on an idle machine (27 → 16 ms) but multiplies it
    # under load (p95 112 → 816 ms) and slows batches; the gateway shares the cores with Rasa.
    torch_threads: int = 1
    # Vectors above which the dense index is approximate (FAISS IVF) instead of exact: `make
    # bench` measured exact search at ~15 ms for 100,000 vectors (linear), so ~45 ms here.
    approximate_index_above: int = 300_000
    # Colloquial → official words (饭馆 → 餐饮) for BM25 and the decision's coverage features;
    # reloaded when the file changes (retrieval/terms.py).
    term_map_path: Path = REPO_ROOT / "retrieval" / "data" / "term_map.tsv"

    # Limits shared by retrieval and chat.
    max_message_chars: int = 2000

    # Knowledge base: entries not checked against their source for longer than this are
    # flagged in the editor and listed by `xiaobao kb stale`.
    kb_review_max_age_days: int = 180

    # Rasa server (its own process, .venv-rasa) and the gateway.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = SECRET_DEFAULTS["rasa_token"]  # Rasa's HTTP API (--auth-token)
    # Rasa sends this with every call to the gateway's action endpoint (endpoints.yml
    # ``action_endpoint.token``); a call without it gets 404.
    action_token: str = SECRET_DEFAULTS["action_token"]
    rasa_timeout_s: float = 30.0
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    # "production" refuses known or empty secrets (so does a gateway bound beyond loopback).
    env: str = "development"
    # Secrets: session signing and 12345 callback HMAC. `make run` generates them on first run
    # (<home>/secrets.json, mode 600); the environment's own values win.
    secret_key: str = SECRET_DEFAULTS["secret_key"]
    call_callback_secret: str = SECRET_DEFAULTS["call_callback_secret"]

    # Web: origins allowed to send state-changing requests (default: the gateway's own), the
    # one proxy header trusted for the client's address (empty: none, use the socket's), body
    # caps, and a token for /metrics and /openapi.json in production (empty: loopback only).
    allowed_origins: list[str] = Field(default_factory=list)
    # Names the gateway answers to in ``Host`` (a loopback address always passes); a public
    # gateway lists its own, e.g. ["xiaobao.baoshan.gov.cn"]. Anything else gets 400.
    allowed_hosts: list[str] = Field(default_factory=lambda: ["localhost"])
    trusted_proxy_header: str = ""
    max_json_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    metrics_token: str = ""
    session_absolute_max_age_s: int = 12 * 3600

    # Abuse limits (sliding windows in Redis). Load tests raise the per-IP ones: all their
    # traffic comes from 127.0.0.1.
    chat_per_visitor_per_minute: int = 30
    chat_per_ip_per_minute: int = 120
    handoffs_per_visitor_per_hour: int = 3
    callbacks_per_phone_per_day: int = 2
    callbacks_per_ip_per_hour: int = 5
    left_messages_per_visitor_per_hour: int = 5
    # Per client address too, so dropping the cookie does not reset a count: 留言, new handoff
    # tickets (any channel) and 12345 call-backs (callbacks_per_ip_per_hour, whichever path
    # books them: the 留言 route, the bot's form).
    left_messages_per_ip_per_hour: int = 5
    handoffs_per_ip_per_hour: int = 10
    logins_per_ip_per_15_minutes: int = 20
    login_failures_before_delay: int = 5
    # Wrong passwords for one account from all addresses together in an hour above which each
    # further one is logged as a warning and counted (xiaobao_login_failure_alerts_total) —
    # an alert, never a block: the delay above is per (account, address).
    login_failures_per_account_alert: int = 20
    concurrent_password_checks: int = 4  # argon2 uses ~64 MB each: bounded under a flood

    # Gateway: cookies, and whether start-up loads the retrieval index.
    session_cookie: str = "xiaobao_session"
    session_max_age_s: int = 8 * 3600
    visitor_cookie: str = "xiaobao_visitor"
    visitor_max_age_s: int = 365 * 24 * 3600
    # A conversation idle this long is over: the visitor's next request starts a new one (a new
    # visitor secret), and nothing of the old one is shown again. Unless a ticket of it is open.
    visitor_idle_expiry_s: int = 7 * 24 * 3600
    # Service-hall kiosks and other shared terminals: conversations end after kiosk_idle_s.
    kiosk_mode: bool = False
    kiosk_idle_s: int = 10 * 60
    secure_cookies: bool = False  # True behind HTTPS
    warm_retriever: bool = True

    # Gateway background jobs (seconds): requeue tickets of helpers gone silent, dial 12345
    # calls that are due, delete transcripts past their retention.
    background_jobs: bool = True
    sweep_interval_s: float = 5.0
    due_calls_interval_s: float = 10.0
    purge_interval_s: float = 6 * 3600
    # Publish ticket changes that could not reach Redis (or the bot) at once.
    outbox_interval_s: float = 1.0

    # 12345: the longest the call adapter's start_call may take; past it the attempt counts as
    # failed and is retried per handoff/config.yaml ``calls`` (handoff.calls.start_call).
    call_adapter_timeout_s: float = Field(default=10.0, gt=0)
    # A 12345 call-back only to a number that received an SMS code and typed it back
    # (handoff.phone_codes); the code goes to the centre's SMS gateway at sms_url (POST
    # {"phone", "text"}, bearer sms_token), or to the simulator when none is set.
    callback_sms_verification: bool = False
    sms_url: str = ""
    sms_token: str = ""

    # Handoff: dispatch configuration file (routing, service levels, hours);
    # the packaged default if unset.
    handoff_config: Path | None = None

    # Enterprise sign-in (一网通办 法人, OpenID Connect; api/oidc.py). No issuer: outside
    # production the gateway mounts its simulator provider under /oidc-sim/ and signs in
    # against it; in production enterprise sign-in is off until an issuer is set. The redirect
    # URL defaults to this gateway's /auth/enterprise/callback as the browser reached it.
    oidc_issuer: str = ""
    oidc_client_id: str = "xiaobao-portal"
    oidc_client_secret: str = OIDC_SIMULATOR_SECRET
    oidc_redirect_url: str = ""
    oidc_scope: str = "openid profile"
    oidc_uscc_claim: str = "uscc"  # the ID token's claim holding the 统一社会信用代码
    oidc_name_claim: str = "name"  # ... and the enterprise's name
    oidc_timeout_s: float = 10.0
    enterprise_cookie: str = "xiaobao_enterprise"
    enterprise_session_max_age_s: int = 2 * 3600  # idle
    enterprise_session_absolute_max_age_s: int = 8 * 3600

    # The enterprise register (一企一档, enterprises/): the sources whose facts count as an
    # authority's (above the enterprise's own word, and the only ones 免申即享 may rest on);
    # by default every source except 企业自报 and 对话中填报.
    register_authoritative_sources: list[str] = Field(
        default_factory=lambda: ["市场监管登记", "税务", "人社", "科委认定名单", "经信委认定名单",
                                 "统计局", "残联"])
    # Days a fact stays fresh after its as-of date (older: unknown for 免申即享), and per field
    # where it differs, e.g. {"employees": 180}.
    register_freshness_days: int = Field(default=365, gt=0)
    register_field_freshness_days: dict[str, int] = Field(default_factory=dict)
    # Facts an enterprise gave in a conversation (对话中填报) are deleted this long after they
    # were given (retention/register_facts.py).
    register_conversation_retention_days: int = Field(default=365, gt=0)

    # 政策推送 (notifications/): the SMS and 站内信 providers (POST JSON, bearer key; none set:
    # the local simulator, which sends nothing), the sending hours (Shanghai time, working
    # days only unless notify_every_day; "24:00" is the end of the day), the cap per minute,
    # the retries (back-off from notify_retry_base_s doubling, failed after
    # notify_max_attempts) and the portal links the messages carry.
    notify_sms_url: str = ""
    notify_sms_key: str = ""
    notify_inbox_url: str = ""
    notify_inbox_key: str = ""
    notify_timeout_s: float = Field(default=5.0, gt=0)
    notify_hours: list[str] = Field(default_factory=lambda: ["09:00-20:00"])
    notify_every_day: bool = False
    notify_per_minute: int = Field(default=60, ge=1)
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_retry_base_s: float = Field(default=60.0, ge=0)
    notify_interval_s: float = Field(default=10.0, gt=0)
    notify_portal_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="after")
    def _redis_address(self) -> Settings:
        """One address for the factory: the Sentinels' when configured, else REDIS_URL."""
        from xiaobao.redis_clients import plain_url_with_password, sentinel_url

        if self.redis_sentinels.strip():
            url = sentinel_url(self.redis_sentinels, self.redis_sentinel_master,
                               db=_redis_db(self.redis_url), password=self.redis_password,
                               sentinel_password=self.redis_sentinel_password)
        else:
            url = plain_url_with_password(self.redis_url, self.redis_password)
        object.__setattr__(self, "redis_url", url)
        return self

    @model_validator(mode="after")
    def _secrets_from_home(self) -> Settings:
        """Secrets not set by the environment come from <home>/secrets.json when it exists."""
        path = self.home / SECRETS_FILE
        unset = [name for name in SECRET_DEFAULTS if name not in self.model_fields_set]
        if unset and path.is_file():
            stored = json.loads(path.read_text(encoding="utf-8"))
            for name in unset:
                if stored.get(name):
                    object.__setattr__(self, name, stored[name])
        return self

    @property
    def visitor_idle_s(self) -> int:
        """How long a conversation may sit idle before it is over (kiosk mode: short)."""
        return min(self.visitor_idle_expiry_s, self.kiosk_idle_s) if self.kiosk_mode \
            else self.visitor_idle_expiry_s

    @property
    def is_production(self) -> bool:
        return self.env.strip().lower() == "production" or not _loopback(self.gateway_host)

    def weak_secrets(self) -> list[str]:
        """The secrets that are empty or still the published defaults (the OIDC client's
        only once a real identity provider is configured; the simulator's is published)."""
        weak = [name for name, default in SECRET_DEFAULTS.items()
                if not getattr(self, name) or getattr(self, name) == default
                or len(getattr(self, name)) < 16]
        if self.oidc_issuer and (self.oidc_client_secret == OIDC_SIMULATOR_SECRET
                                 or len(self.oidc_client_secret) < 16):
            weak.append("oidc_client_secret")
        return weak

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'xiaobao.db'}"

    @property
    def model_dir(self) -> Path:
        return self.embedding_model_dir or self.home / "models" / "multilingual-e5-small"

    @property
    def adapted_models_dir(self) -> Path:
        """Encoders fine-tuned by `xiaobao model adapt`, by the hash of their inputs, and
        ``current.json`` naming the one in use (if it beat the base model)."""
        return self.adapted_models_root or self.home / "models" / "adapted"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redis_db(url: str) -> int:
    from urllib.parse import urlsplit

    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


@lru_cache
def get_settings() -> Settings:
    return Settings()
