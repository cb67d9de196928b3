"""The one base of every error a person is told about.

A domain error says what went wrong once: an HTTP ``status``, a machine ``code`` and a
``message`` in Chinese for the person, then English (``"……。 / …"``), any response
``headers`` (a limit's ``Retry-After``) and any :meth:`details` (the problems, one by one).
The gateway has one handler for all of them (:func:`api.errors.install_error_handlers`), the
command line prints ``message``; no route converts one error into another. Domain packages
derive their own errors from this one and know nothing of HTTP beyond the status number.
"""
from __future__ import annotations


class XiaobaoError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def details(self) -> dict:
        """What the error's body carries beside its code and message (every bad row of an
        import, every problem of a form); nothing unless a subclass says."""
        return {}
