"""The client's address under a real uvicorn started as the Procfile starts it.

uvicorn's ``--proxy-headers`` (on by default) believes ``X-Forwarded-For`` from any loopback
peer and rewrites the socket's address before the gateway sees it, so a client on the machine
(or behind a proxy that appends) could pick a new address for every request and escape the
per-address limits. The Procfile runs uvicorn with ``--no-proxy-headers``: only
``settings.trusted_proxy_header`` (empty here) decides the address.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import httpx

from tests.api.conftest import REPO_ROOT

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def procfile_command(name: str) -> str:
    for line in (Path(REPO_ROOT) / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in the Procfile")


def test_the_procfile_turns_uvicorns_proxy_headers_off():
    assert "--no-proxy-headers" in shlex.split(procfile_command("gateway"))


def test_a_rotating_forwarded_for_does_not_escape_the_per_address_chat_limit(gateway_process,
                                                                             rasa):
    gateway = gateway_process
    env = {**gateway.env, "XIAOBAO_CHAT_PER_IP_PER_MINUTE": "3"}
    log = (gateway.home / "procfile-gateway.log").open("wb")
    # The Procfile's own command line, as honcho runs it (a shell expands the ${…:-…}).
    gateway.proc = subprocess.Popen(["bash", "-c", "exec " + procfile_command("gateway")],
                                    cwd=REPO_ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert gateway.proc.poll() is None, (gateway.home / "procfile-gateway.log").read_text()
        try:
            if httpx.get(f"{gateway.base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "gateway not ready"
        time.sleep(0.1)

    def say(i: int) -> httpx.Response:
        # A new visitor (no cookie) and a new claimed address every time, from loopback.
        spoofed = f"198.51.100.{i}"
        return httpx.post(f"{gateway.base}/api/chat/messages", json={"text": f"问题{i}"},
                          headers={"Origin": gateway.base, "X-Forwarded-For": spoofed,
                                   "X-Real-IP": spoofed, "Forwarded": f"for={spoofed}"},
                          timeout=10)

    for i in range(3):
        assert say(i).status_code == 200, i
    assert len(rasa.received) == 3  # the stand-in Rasa answered them
    refused = say(3)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert CHINESE.search(refused.json()["error"]["message"])
