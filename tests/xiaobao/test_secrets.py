"""Generated secrets: mode 600 from the first byte, kept across runs, used unless the
environment sets its own; production refuses known or empty secrets, naming them."""
from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from xiaobao.secrets import WeakSecrets, check_production, create_private_file, ensure_secrets
from xiaobao.settings import SECRET_DEFAULTS, Settings


def test_secrets_file_is_private_random_and_kept(tmp_path):
    old = os.umask(0o000)  # the most permissive umask: the mode must not depend on it
    try:
        path = ensure_secrets(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = json.loads(path.read_text())
    assert set(first) == set(SECRET_DEFAULTS)
    assert all(len(v) >= 32 and v != SECRET_DEFAULTS[k] for k, v in first.items())
    assert len(set(first.values())) == len(first)
    ensure_secrets(tmp_path)
    assert json.loads(path.read_text()) == first  # a second run changes nothing


def test_settings_use_the_file_unless_the_environment_sets_a_secret(tmp_path, monkeypatch):
    stored = json.loads(ensure_secrets(tmp_path).read_text())
    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path))
    monkeypatch.setenv("XIAOBAO_RASA_TOKEN", "from-the-environment-0123456789")
    settings = Settings()
    assert settings.secret_key == stored["secret_key"]
    assert settings.action_token == stored["action_token"]
    assert settings.rasa_token == "from-the-environment-0123456789"
    assert Settings(home=tmp_path, secret_key="explicit").secret_key == "explicit"


def test_create_private_file_never_overwrites(tmp_path):
    path = tmp_path / "a" / "f.txt"
    assert create_private_file(path, "one")
    assert not create_private_file(path, "two")
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("production", [{"env": "production"}, {"gateway_host": "0.0.0.0"},
                                        {"gateway_host": "10.1.2.3"}])
def test_production_refuses_default_and_empty_secrets(tmp_path, production):
    settings = Settings(home=tmp_path, call_callback_secret="", **production)
    with pytest.raises(WeakSecrets) as err:
        check_production(settings)
    message = str(err.value)
    assert "\n" not in message
    for name in ("XIAOBAO_SECRET_KEY", "XIAOBAO_CALL_CALLBACK_SECRET", "XIAOBAO_RASA_TOKEN",
                 "XIAOBAO_ACTION_TOKEN"):
        assert name in message


def test_production_starts_with_real_secrets_and_development_with_defaults(tmp_path):
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    check_production(Settings(home=tmp_path, env="production", **strong))
    check_production(Settings(home=tmp_path))  # loopback development: defaults allowed
    assert not Settings(home=tmp_path, gateway_host="::1").is_production


def test_cli_ensure_and_env(tmp_path, monkeypatch):
    from cli.main import app

    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(app, ["secrets", "ensure"]).exit_code == 0
    out = runner.invoke(app, ["secrets", "env"]).output
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert f"export XIAOBAO_ACTION_TOKEN={stored['action_token']}" in out
    assert f"export XIAOBAO_RASA_TOKEN={stored['rasa_token']}" in out
