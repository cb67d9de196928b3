"""The sub-commands against a private Redis and a temporary home (a real process)."""
from __future__ import annotations

import os
import subprocess
import sys

from xiaobao.settings import REPO_ROOT


def run(args, env):
    return subprocess.run([sys.executable, "-m", "cli.main", "handoff", *args], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_cli_recover_queues_purge_close(tmp_path, redis_server, r):
    env = dict(os.environ, XIAOBAO_HOME=str(tmp_path), XIAOBAO_REDIS_URL=redis_server.url,
               XIAOBAO_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    env.pop("REDIS_URL", None)
    out = run(["recover"], env)
    assert out.returncode == 0, out.stderr
    assert "requeued=0" in out.stdout and "outbox_published=0" in out.stdout
    out = run(["queues", "--all"], env)
    assert out.returncode == 0 and "综合窗口" in out.stdout
    out = run(["purge", "--days", "30"], env)
    assert out.returncode == 0 and "tickets=0" in out.stdout
    out = run(["close", "nope"], env)
    assert out.returncode == 1 and "nope" in out.stderr
    out = run(["close", "nope", "--status", "claimed"], env)
    assert out.returncode == 2


def test_cli_sms_outbox_shows_what_the_simulator_sent(tmp_path, redis_server, r):
    from handoff import phone_codes

    env = dict(os.environ, XIAOBAO_HOME=str(tmp_path), XIAOBAO_REDIS_URL=redis_server.url,
               XIAOBAO_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    env.pop("REDIS_URL", None)
    phone_codes.send_code(r, phone_codes.SimulatedSms(r), "conv-a", "13812345678")
    phone_codes.send_code(r, phone_codes.SimulatedSms(r), "conv-b", "13900001111")
    out = run(["sms-outbox", "--phone", "13812345678"], env)
    assert out.returncode == 0, out.stderr
    assert "13812345678" in out.stdout and "验证码" in out.stdout
    assert "13900001111" not in out.stdout
