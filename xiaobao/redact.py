"""Logs never carry a phone number or a 统一社会信用代码 (个人信息保护).

:func:`install_log_redaction` wraps the log-record factory once per process: every record is
formatted as it is made (message and arguments), the text is redacted (:func:`redact`) and the
record keeps the result (``msg``, with ``args`` emptied), so whatever handler or formatter
writes it later, the clear number never reaches it. A traceback's text (``exc_text``, filled
in by the first formatter) and ``stack_info`` are redacted too; ``exc_info`` stays as it is.

The gateway installs it in ``create_app``, the command line at import (``cli/main.py``).
What is masked (:func:`mask_personal_text`, also what staff views use): every number
:func:`xiaobao.phone.parse_phone` reads (:func:`~xiaobao.phone.
mask_phones_in`), and 18-character credit codes (the alphabet of GB 32100: 0-9 and A-Z without
I, O, S, V, Z), kept as their first two and last two characters. An 18-digit ID card number
has the same shape and is masked the same way.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

from xiaobao.phone import mask_phones_in

_CODE_CHARS = "0-9A-HJ-NPQRTUWXY"
_CODE_CHARS_WIDE = "０-９Ａ-ＨＪ-ＮＰＱＲＴＵＷＸＹ"
_CHAR = f"[{_CODE_CHARS}{_CODE_CHARS_WIDE}]"
_DIGIT = "[0-9０-９]"
# Registration authority and kind (2), administrative division (6 digits), organisation code
# (9) and check character (1); not inside a longer run of letters or digits.
_CREDIT_CODE = re.compile(
    rf"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ]){_CHAR}{{2}}{_DIGIT}{{6}}{_CHAR}{{10}}"
    r"(?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])", re.IGNORECASE)

# Loggers whose formatters read ``record.args`` themselves (uvicorn's access log unpacks a
# tuple): their arguments are redacted one by one instead of being folded into the message.
KEEP_ARGS = ("uvicorn.access",)


def mask_credit_code(code: str) -> str:
    """``91310115MA1K4ABC1X`` → ``91**************1X``."""
    return code[:2] + "*" * (len(code) - 4) + code[-2:]


def mask_credit_codes_in(text: str) -> str:
    return _CREDIT_CODE.sub(lambda m: mask_credit_code(m.group(0)), text)


def mask_personal_text(text: str) -> str:
    """The one redaction of free text shown to anyone who may not read it in clear (staff who
    do not handle the ticket, editors, reports) and written to logs: 18-character ID card
    numbers and 统一社会信用代码 first (their digits would otherwise be read as a landline),
    then phone numbers. Each only as a token on its own, never inside a longer run of letters
    or digits (a hex id, an order number)."""
    if not text:
        return text
    return mask_phones_in(mask_credit_codes_in(text))


# A secret in a URL's query string (Rasa's own HTTP API takes its auth token only there, and
# httpx and uvicorn log URLs): the value is dropped from every log line.
_QUERY_SECRET = re.compile(r"([?&](?:token|auth_token|access_token)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """What logs keep of a text: :func:`mask_personal_text`, and no token from a URL."""
    return _QUERY_SECRET.sub(r"\1[redacted]", mask_personal_text(text))


class RedactingLogRecord(logging.LogRecord):
    """A record whose traceback text is redacted when a formatter fills it in."""

    @property
    def exc_text(self) -> str | None:
        return self.__dict__.get("exc_text")

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["exc_text"] = redact(value) if isinstance(value, str) else value


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if type(record) is logging.LogRecord:
        # Same layout, one more property: exc_text is redacted whenever it is set.
        record.__class__ = RedactingLogRecord
    if record.name.startswith(KEEP_ARGS) and isinstance(record.args, tuple):
        record.msg = redact(str(record.msg))
        record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
    else:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep what it said, redacted, without failing
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = ()
    if isinstance(record.exc_text, str):
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


_lock = threading.Lock()


def install_log_redaction() -> None:
    """Wrap the current log-record factory (once: installing again changes nothing)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "_xiaobao_redacting", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _redact_record(current(*args, **kwargs))

        factory._xiaobao_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


def installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), "_xiaobao_redacting", False))

