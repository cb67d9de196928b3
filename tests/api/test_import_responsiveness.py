"""The gateway stays responsive during any import (security issue: an editor's 471-byte YAML
froze it for 13 s): a real uvicorn process takes hostile and full-size imports one after the
other while /healthz is polled; every poll answers within a second."""
from __future__ import annotations

import threading
import time

import httpx

from tests.xiaobao.test_tabular import big_shared_string_xlsx
from xiaobao.accounts import create_account
from xiaobao.db import session_scope

ALIAS_BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))).encode()


def _files() -> list[tuple[str, bytes]]:
    rows = "".join(f"kb-load-{i:05d},问题{i}怎么办理,答案{i}。\n" for i in range(19_000))
    return [("bomb.yaml", ALIAS_BOMB),
            ("bomb.xlsx", big_shared_string_xlsx()),
            ("empty.csv", ("id,question,answer\n" + "x,,\n" * 100_000).encode()),
            ("many.csv", ("id,question,answer\n" + rows).encode()),
            ("long.csv", ("id,question,answer\nkb-x-1,问," + "长" * 2_000_000 + "\n").encode())]


def test_healthz_answers_within_a_second_during_every_import(gateway_process):
    gateway_process.start()
    with session_scope(gateway_process.engine) as s:
        create_account(s, "ed", "correct-horse-battery", roles=["editor"])
    base = gateway_process.base
    editor = httpx.Client(base_url=base, timeout=120, headers={"Origin": base})
    assert editor.post("/api/auth/login", json={"username": "ed",
                                                "password": "correct-horse-battery"}
                       ).status_code == 200
    statuses: list[tuple[str, int, float]] = []
    done = threading.Event()

    def imports() -> None:
        try:
            for name, data in _files():
                started = time.monotonic()
                response = editor.post("/api/kb/import", params={"dry_run": "true"},
                                       files={"file": (name, data)})
                statuses.append((name, response.status_code, time.monotonic() - started))
        finally:
            done.set()

    worker = threading.Thread(target=imports)
    worker.start()
    latencies = []
    with httpx.Client(base_url=base, timeout=5) as probe:
        while not done.is_set():
            started = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    worker.join()
    print(f"imports: {statuses}; healthz polls {len(latencies)}, max {max(latencies):.3f} s")
    assert [s[:2] for s in statuses] == [("bomb.yaml", 422), ("bomb.xlsx", 422),
                                         ("empty.csv", 422), ("many.csv", 200),
                                         ("long.csv", 422)]
    assert len(latencies) >= 5 and max(latencies) < 1.0
