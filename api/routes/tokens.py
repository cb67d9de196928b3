"""The API tokens of the centre's systems over HTTP, for supervisors and admin: the list, making
one (shown once, in the answer) and revoking. The command line (``xiaobao tokens``) does the
same; the rules are :mod:`xiaobao.tokens`' and :func:`xiaobao.policy.require_grant`'s (a
supervisor grants ``reports:read`` only, admin any scope)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import SessionDep, TokenManagerAccount
from api.errors import error_responses
from xiaobao import policy, tokens
from xiaobao.clock import aware

router = APIRouter(prefix="/api/tokens", tags=["API tokens"],
                   responses=error_responses(400, 401, 403, 404, 413, 422))
Scope = Literal[tuple(policy.SCOPES)]  # type: ignore[valid-type]
TokenName = Annotated[str, Path(max_length=tokens.MAX_NAME_CHARS)]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=tokens.MAX_NAME_CHARS)
    scopes: list[Scope] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=len(policy.SCOPES))
    expires: str = Field(default="365d", max_length=16,
                         description="YYYY-MM-DD (through that day, Shanghai), N days, or never")


def _when(value: dt.datetime | None) -> str | None:
    return aware(value).isoformat() if value else None


def token_out(row: tokens.ApiToken) -> dict:
    """What is shown of a token: never the token itself, only its first characters."""
    return {"name": row.name, "prefix": row.prefix, "scopes": list(row.scopes),
            "created_at": _when(row.created_at), "created_by": row.created_by,
            "expires_at": _when(row.expires_at), "last_used_at": _when(row.last_used_at),
            "revoked_at": _when(row.revoked_at), "state": tokens.state(row)}


@router.get("")
def list_tokens(session: SessionDep, _: TokenManagerAccount) -> dict:
    return {"tokens": [token_out(row) for row in tokens.list_tokens(session)]}


@router.post("", status_code=201)
def create_token(body: TokenIn, session: SessionDep, me: TokenManagerAccount) -> dict:
    """A new token: ``token`` is in this answer and nowhere else, ever."""
    policy.require_grant(me, body.scopes)
    row, token = tokens.create_token(session, body.name, list(body.scopes),
                                     expires_at=tokens.parse_expiry(body.expires),
                                     by=me.username)
    return {"token": token, "item": token_out(row)}


@router.post("/{name}/revoke")
def revoke_token(name: TokenName, session: SessionDep, me: TokenManagerAccount) -> dict:
    """Refused from the next request on; revoking a revoked token changes nothing."""
    return {"item": token_out(tokens.revoke_token(session, name, by=me.username))}
