"""The package's error: a work item or a policy that is not there, a step out of order."""
from __future__ import annotations

from xiaobao.errors import XiaobaoError


class EntitlementError(XiaobaoError):
    status = 422
    code = "bad_entitlement"

    def __init__(self, message: str, *, status: int = 422, code: str = "bad_entitlement"):
        super().__init__(message, code=code)
        self.status = status
