"""A Redis primary, a replica and three Sentinels of the tests' own on free loopback ports
(quorum 2, down-after-milliseconds 500, failover-timeout 3000), each a redis-server process
under the test's directory: what a failover test SIGKILLs the primary of. Fails over again and
again (the soak): :meth:`kill_primary` kills whichever server is the primary now, and
:meth:`restart_as_replica` brings the killed one back as a replica of the promoted one."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.redis_server import _free_port, redis_server_binary

MASTER = "xiaobao"
PASSWORD = "primary-pw"


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = condition()
            if found:
                return found
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class SentinelSet:
    """A primary, a replica and three Sentinels, each its own redis-server process."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        self.servers: dict[int, subprocess.Popen] = {}  # data servers by port
        self.primary_port, self.replica_port = _free_port(), _free_port()
        self.primary = self._server(self.primary_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port),
                     "--masterauth", PASSWORD)
        self.sentinel_ports = [_free_port() for _ in range(3)]
        for port in self.sentinel_ports:
            conf = workdir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel auth-pass {MASTER} {PASSWORD}\n"
                f"sentinel down-after-milliseconds {MASTER} 500\n"
                f"sentinel failover-timeout {MASTER} 3000\n"
                f"sentinel parallel-syncs {MASTER} 1\n", encoding="utf-8")
            self.procs.append(subprocess.Popen(
                [redis_server_binary(), str(conf), "--sentinel"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Ready: the replica in sync, every Sentinel knowing the replica and the two others
        # (a failover needs the quorum and a majority to elect the one that promotes).
        wait_for(lambda: self.direct(self.replica_port).info("replication")
              ["master_link_status"] == "up", 10, "the replica to sync")
        for port in self.sentinel_ports:
            wait_for(lambda port=port: self._knows_everyone(port), 15, f"Sentinel {port} ready")

    def _server(self, port: int, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--requirepass", PASSWORD,
             *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        self.servers[port] = proc
        wait_for(lambda: self.direct(port).ping(), 10, f"redis-server on {port}")
        return proc

    def direct(self, port: int, db: int = 0) -> redis.Redis:
        return redis.Redis(port=port, db=db, password=PASSWORD, decode_responses=True,
                           socket_timeout=1, socket_connect_timeout=0.5)

    def _knows_everyone(self, port: int) -> bool:
        state = redis.Redis(port=port, decode_responses=True, socket_timeout=1).sentinel_master(
            MASTER)
        return state["num-slaves"] >= 1 and state["num-other-sentinels"] >= 2

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def master_port(self) -> int:
        host_port = redis.Redis(port=self.sentinel_ports[0], decode_responses=True,
                                socket_timeout=1).sentinel_get_master_addr_by_name(MASTER)
        return int(host_port[1])

    def kill_primary(self) -> float:
        """SIGKILL of the server the Sentinels name the primary now; when it died."""
        self.killed_port = self.master_port()
        proc = self.servers[self.killed_port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        return time.monotonic()

    def wait_for_promotion(self, killed_at: float) -> float:
        """Seconds from ``killed_at`` until the Sentinels name the other server the primary."""
        killed = getattr(self, "killed_port", self.primary_port)
        wait_for(lambda: self.master_port() != killed, 15, "the promotion")
        return time.monotonic() - killed_at

    def restart_as_replica(self) -> None:
        """The killed server started again as a replica of the promoted one, in sync."""
        port, master = self.killed_port, self.master_port()
        self._server(port, "--replicaof", "127.0.0.1", str(master), "--masterauth", PASSWORD)
        wait_for(lambda: self.direct(port).info("replication")["master_link_status"] == "up",
                 15, "the restarted replica to sync")

    def client(self, db: int = 0) -> redis.Redis:
        """A client of whichever server is the primary now."""
        return self.direct(self.master_port(), db)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
