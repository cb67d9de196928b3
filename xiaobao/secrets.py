"""The secrets a fresh install generates for itself, and the production start-up check.

``make run`` calls :func:`ensure_secrets` on first run: a random session secret, 12345
call-back secret, Rasa API token and action-endpoint token, in ``<home>/secrets.json``. The
file is created with mode 600 in one ``open`` (``O_CREAT | O_EXCL``), so it is never
world-readable, not even briefly. Settings read it for every secret the environment does not
set (:class:`xiaobao.settings.Settings`).
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from xiaobao.settings import SECRET_DEFAULTS, SECRETS_FILE, Settings


class WeakSecrets(SystemExit):
    """Production refuses to start with a known default or empty secret."""


def create_private_file(path: Path, text: str) -> bool:
    """Write ``text`` to a new file readable by its owner only; False if it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return True


def ensure_secrets(home: Path) -> Path:
    """``<home>/secrets.json`` with a fresh random value for every secret; kept if present."""
    path = home / SECRETS_FILE
    values = {name: secrets.token_urlsafe(32) for name in SECRET_DEFAULTS}
    create_private_file(path, json.dumps(values, indent=2) + "\n")
    return path


def check_production(settings: Settings) -> None:
    """In production (``XIAOBAO_ENV=production``, or bound beyond loopback) every secret must
    be set and not a published default; raises :class:`WeakSecrets` naming them in one line."""
    if not settings.is_production:
        return
    weak = settings.weak_secrets()
    if weak:
        names = ", ".join(f"XIAOBAO_{name.upper()}" for name in weak)
        raise WeakSecrets(f"拒绝启动：生产模式下以下密钥为空、过短或仍是公开的默认值：{names}。"
                          f" / Refusing to start in production: weak or default secret(s): "
                          f"{names}.")
