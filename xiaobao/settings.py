"""The one settings object. Nothing else in the project reads ``os.environ``.

Every value comes from an environment variable (prefix ``XIAOBAO_`` unless
named otherwise) with a default that works on a fresh machine: SQLite and the
index under ``XIAOBAO_HOME`` (``./var``), Redis on 127.0.0.1:6379.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOBAO_", extra="ignore")

    home: Path = Field(default=REPO_ROOT / "var")
    database_url: str | None = None
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "XIAOBAO_REDIS_URL"),
    )

    # Embedding model: converted once by `xiaobao model install` into <home>/models/.
    embedding_model_dir: Path | None = None
    embedding_batch_size: int = 32
    # torch threads for encoding. One: measured on 2 cores, a second OpenMP thread halves
    # single-query latency on an idle machine (27 → 16 ms) but multiplies it under load
    # (p95 112 → 816 ms) and slows batches, and the gateway shares the cores with Rasa.
    torch_threads: int = 1
    # Vectors above which the dense index is approximate (FAISS IVF) instead of exact: `make
    # bench` measured exact search at ~15 ms for 100,000 vectors (linear), so ~45 ms here.
    approximate_index_above: int = 300_000

    # Limits shared by retrieval and chat.
    max_message_chars: int = 2000

    # Rasa server (its own process, .venv-rasa) and the gateway.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = "xiaobao-dev-token"
    rasa_timeout_s: float = 30.0
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    # Secrets: session signing and 12345 callback HMAC. Override in production.
    secret_key: str = "dev-secret-change-me"
    call_callback_secret: str = "dev-callback-secret-change-me"

    # Gateway: cookies, and whether start-up loads the retrieval index.
    session_cookie: str = "xiaobao_session"
    session_max_age_s: int = 8 * 3600
    visitor_cookie: str = "xiaobao_visitor"
    visitor_max_age_s: int = 365 * 24 * 3600
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

    # Handoff: dispatch configuration file (routing, service levels, hours);
    # the packaged default if unset.
    handoff_config: Path | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'xiaobao.db'}"

    @property
    def model_dir(self) -> Path:
        return self.embedding_model_dir or self.home / "models" / "multilingual-e5-small"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


@lru_cache
def get_settings() -> Settings:
    return Settings()
