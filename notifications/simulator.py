"""The simulator as an HTTP provider, for a dispatcher in another process (development,
and the test that kills one): it speaks :class:`~notifications.notifier.HttpNotifier`'s
protocol and keeps what it got in a :class:`~notifications.notifier.Simulator`.

``hold_at``: the first successful send that brings the kept messages to ``hold_at`` (or past)
is kept, but its answer is held (``held_id``) until :meth:`SimulatorServer.release` — the
moment a test kills the dispatcher, after the provider has the message and before the
dispatcher could commit.
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications.notifier import Message, NotifyError, Simulator


class SimulatorServer:
    def __init__(self, simulator: Simulator, host: str = "127.0.0.1", port: int = 0,
                 key: str = "", hold_at: int | None = None) -> None:
        self.simulator, self.key, self.hold_at = simulator, key, hold_at
        self.held, self._release = threading.Event(), threading.Event()
        self.held_id = ""  # the message whose answer was held
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/send"

    def start(self) -> SimulatorServer:
        self._thread.start()
        return self

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict) -> tuple[int, dict]:
        message = Message(id=str(body["id"]), channel=str(body["channel"]),
                          uscc=str(body["uscc"]), text=str(body["text"]))
        try:
            provider_message_id = self.simulator.send(message)
        except NotifyError as exc:
            return 503, {"error": exc.message}
        if (self.hold_at is not None and not self.held.is_set()
                and len(self.simulator.received) >= self.hold_at):
            self.held_id = message.id
            self.held.set()
            self._release.wait(30)
        return 200, {"message_id": provider_message_id}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _allowed(self) -> bool:
                if server.key and self.headers.get("Authorization") != f"Bearer {server.key}":
                    self._reply(401, {"error": "bad key"})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                """What the simulator got (development: ``xiaobao notify simulator``)."""
                if self._allowed():
                    with server.simulator.lock:
                        kept = [asdict(m) for m in server.simulator.received.values()]
                    self._reply(200, {"simulator": True, "messages": kept})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                if self._allowed():
                    try:
                        length = int(self.headers.get("Content-Length") or 0)
                        status, answer = server._answer(json.loads(self.rfile.read(length)))
                    except (ValueError, KeyError, TypeError):
                        status, answer = 400, {"error": "bad request"}
                    self._reply(status, answer)

            def _reply(self, status: int, answer: dict) -> None:
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:  # no USCC in any log line
                return

        return Handler
