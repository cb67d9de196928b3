"""A PostgreSQL cluster of the tests' own on a free loopback port (never the shared one on 5432).

Debian's binaries (``/usr/lib/postgresql/<major>/bin``) in a temporary directory, trust auth.
PostgreSQL refuses to run as root, so when the tests run as root the cluster's files belong to
the ``postgres`` OS user and the server runs as that user (``subprocess`` drops to it before
exec, so ``proc`` is the postmaster itself). ``kill()`` plays a crash: SIGKILL to the
postmaster and its backends (its process group), nothing flushed, nothing shut down; ``start()``
again on the same data directory and port goes through crash recovery as a real restart would.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from tests.redis_server import _free_port  # one free-port finder for the test servers

DATABASE = "xiaobao"


def postgres_bin_dir() -> Path:
    for major in ("17", "16", "15", "14", "13"):
        candidate = Path(f"/usr/lib/postgresql/{major}/bin")
        if (candidate / "postgres").exists():
            return candidate
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")


class PostgresServer:
    """One private cluster; ``url`` is the SQLAlchemy URL of its ``xiaobao`` database."""

    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.bin = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="xiaobao-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            self._user = "postgres"
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self._created = False

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, user=self._user, cwd=self.root, capture_output=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode(errors='replace')}")

    def _connect(self, dbname: str) -> psycopg2.extensions.connection:
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname=dbname, connect_timeout=2)

    def start(self, timeout: float = 30) -> None:
        """Start the postmaster (again) on the same data directory and port; wait until it answers.

        After a ``kill()`` this is crash recovery; a refusal because the old backends still hold
        the shared memory or the port is retried until ``timeout``.
        """
        if self.proc is not None and self.proc.poll() is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                     "-c", "listen_addresses=127.0.0.1",
                     "-c", f"unix_socket_directories={self.root}",
                     "-c", "max_connections=100", "-c", "fsync=off"],
                    user=self._user, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
            if self._wait_ready(deadline):
                break
            if self.proc.poll() is None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"postgres did not start on port {self.port}: {self.tail()}")
            time.sleep(0.2)
        if not self._created:
            self._create_database()

    def _wait_ready(self, deadline: float) -> bool:
        """True once it accepts connections; False when the postmaster exited (start again)."""
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self._connect("postgres").close()
                return True
            except psycopg2.OperationalError:
                time.sleep(0.05)
        return False

    def _create_database(self) -> None:
        conn = self._connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()
        self._created = True

    def stop(self) -> None:
        """A fast shutdown (SIGINT: clients disconnected, a checkpoint written)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """A crash: SIGKILL to the postmaster and every backend of its process group."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the backends, reaped by init, leave the group
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def remove(self) -> None:
        """Kill it and delete its files."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server(port: int | None = None) -> Iterator[PostgresServer]:
    server = PostgresServer(port)
    try:
        server.start()
        yield server
    finally:
        server.remove()
