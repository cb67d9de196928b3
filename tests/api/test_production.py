"""Production mode: the gateway refuses to start with a known default or empty secret, and
says which in one line; with real secrets it starts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.main import create_app
from xiaobao.secrets import WeakSecrets
from xiaobao.settings import REPO_ROOT, SECRET_DEFAULTS, Settings


@pytest.mark.parametrize("where", [{"env": "production"}, {"gateway_host": "0.0.0.0"}])
def test_create_app_refuses_weak_secrets(tmp_path, redis_url, where):
    settings = Settings(home=tmp_path, redis_url=redis_url, warm_retriever=False,
                        secret_key="", **where)
    with pytest.raises(WeakSecrets) as err:
        create_app(settings)
    assert "XIAOBAO_SECRET_KEY" in str(err.value) and "XIAOBAO_RASA_TOKEN" in str(err.value)


def test_create_app_starts_in_production_with_real_secrets(tmp_path, redis_url):
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    app = create_app(Settings(home=tmp_path, redis_url=redis_url, warm_retriever=False,
                              env="production", **strong))
    assert app.state.settings.is_production


def test_uvicorn_exits_with_the_one_line_reason(tmp_path, redis_url):
    env = {"PATH": "/usr/bin:/bin", "XIAOBAO_HOME": str(tmp_path), "REDIS_URL": redis_url,
           "XIAOBAO_ENV": "production", "XIAOBAO_WARM_RETRIEVER": "false"}
    uvicorn = Path(sys.executable).parent / "uvicorn"
    out = subprocess.run([str(uvicorn), "--factory", "api.main:create_app", "--no-proxy-headers",
                          "--port", "0"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    lines = [line for line in (out.stdout + out.stderr).splitlines() if "拒绝启动" in line]
    assert len(lines) == 1 and "XIAOBAO_CALL_CALLBACK_SECRET" in lines[0]
    assert "Traceback" not in out.stdout + out.stderr
