"""The gateway's error shape (api/errors.py): a dependency that cannot be reached is a 503 with
its code and a Chinese / English sentence, logged in one line; anything else unexpected a 500."""
from __future__ import annotations

import logging

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)

    @app.get("/redis")
    def uses_redis() -> dict:  # a Redis that is not there (a primary killed, no promotion yet)
        return {"n": unreachable.exists("xiaobao:recovered")}

    @app.get("/bug")
    def bug() -> dict:
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


def test_redis_unreachable_is_a_503_in_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api"):
        response = _client().get("/redis")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "redis_unavailable"
    assert "服务暂时不可用" in error["message"] and "please retry" in error["message"]
    logged = [r for r in caplog.records if r.name == "api"]
    assert len(logged) == 1 and logged[0].exc_info is None  # no stack trace
    assert "Redis unavailable on GET /redis" in logged[0].getMessage()


def test_an_unexpected_error_is_still_a_500() -> None:
    response = _client().get("/bug")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
