"""The one error of this package: bad input from a caller (a USCC, a kind, a channel)."""
from __future__ import annotations

import re

from xiaobao.errors import XiaobaoError

# GB 32100's alphabet (no I, O, S, V, Z); the check digit is the register's to verify.
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")


class NotificationError(XiaobaoError):
    status = 422
    code = "bad_notification"


def checked_uscc(uscc: str) -> str:
    """The code in upper case, or NotificationError (never a stack trace for a typo)."""
    code = (uscc or "").strip().upper()
    if not _USCC.fullmatch(code):
        raise NotificationError("统一社会信用代码应为18位数字或大写字母。 / A unified social "
                                "credit code has 18 digits or capital letters.",
                                code="bad_uscc")
    return code
