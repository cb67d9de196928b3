"""The gateway's half of a signed-in chat: as a message arrives, note which enterprise (if any)
is signed in on its browser, from the enterprise cookie alone (xiaobao.conversation_enterprise
holds it for the bot's 政策体检 action)."""
from __future__ import annotations

import logging
from collections.abc import Mapping

import redis

from api.services import Services
from xiaobao import conversation_enterprise, enterprise_sessions
from xiaobao.db import session_scope

log = logging.getLogger(__name__)


def note_signed_in(services: Services, conversation_id: str, cookies: Mapping[str, str]) -> None:
    """Remember the signed-in enterprise of this browser for the conversation, or forget the
    one noted before (signed out, expired). A failure is logged: the turn goes on, and the
    action, finding nothing, treats the visitor as anonymous."""
    settings = services.settings
    token = cookies.get(settings.enterprise_cookie)
    try:
        signed_in = None
        if token:
            with session_scope(services.engine) as session:
                signed_in = enterprise_sessions.resolve(session, token, settings)
        if signed_in is None:
            conversation_enterprise.forget(services.redis, conversation_id)
        else:
            conversation_enterprise.remember(services.redis, conversation_id, signed_in.uscc,
                                             settings.enterprise_session_max_age_s)
    except redis.RedisError:
        log.warning("could not note the enterprise of conversation %s", conversation_id[:8])
