"""The helper console's live socket (``/ws/console``): the user's messages on the helper's
tickets, ticket changes and the queue overview, with the helper's heartbeat while it is open."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from api.deps import (
    session_account,
    session_token,
)
from api.services import Services
from handoff import duty, outbox, views
from xiaobao import policy
from xiaobao.accounts import Account
from xiaobao.db import session_scope

router = APIRouter(tags=["helper console"])
log = logging.getLogger("api.console")


RESYNC_S = 2.0


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    """The user's messages on the helper's tickets, ticket changes, and the queue overview.

    Keeps the helper's heartbeat while the console is open: closing it means "gone away".
    The session is checked again at every resync: logged out, expired or deactivated, the
    socket closes with 4401 within ``RESYNC_S``.
    """
    services: Services = websocket.app.state.services
    token = session_token(websocket, services.settings)
    account = await run_in_threadpool(_socket_account, services, token)
    if account is None:
        await websocket.close(code=4401, reason="not logged in as helper")
        return
    await websocket.accept()
    pubsub = services.aredis.pubsub()
    subscribed: dict[str, str] = {}  # relay channel -> ticket id
    sync_now = asyncio.Event()
    receiver = asyncio.create_task(_drain(websocket, sync_now))
    last_sync = 0.0
    try:
        await pubsub.subscribe("xiaobao:console:noop")  # get_message needs a subscription
        while not receiver.done():
            now = asyncio.get_running_loop().time()
            if now - last_sync >= RESYNC_S or sync_now.is_set():
                sync_now.clear()
                last_sync = now
                account = await run_in_threadpool(_socket_account, services, token)
                if account is None:
                    await websocket.close(code=4401, reason="session ended")
                    return
                tickets, overview = await run_in_threadpool(_console_snapshot, services, account)
                wanted = {outbox.relay_channel(t["conversation_id"]): t["id"] for t in tickets}
                gone = [c for c in subscribed if c not in wanted]
                new = [c for c in wanted if c not in subscribed]
                if gone:
                    await pubsub.unsubscribe(*gone)
                if new:
                    await pubsub.subscribe(*new)
                subscribed = wanted
                await websocket.send_json({"type": "snapshot", "tickets": tickets,
                                           "queues": overview})
                for channel in new:
                    # Messages published before this subscription were missed: the console
                    # re-reads the ticket's transcript (the record) on this event.
                    await websocket.send_json({"type": "event", "ticket_id": wanted[channel],
                                               "event": {"type": "subscribed"}})
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message and message.get("type") == "message":
                ticket_id = subscribed.get(message["channel"], "")
                event = json.loads(message["data"])
                await websocket.send_json({"type": "event", "ticket_id": ticket_id,
                                           "event": event})
                if event.get("type") != "message":
                    last_sync = 0.0  # a state change: refresh the lists now
    except WebSocketDisconnect:
        pass
    except RedisError as exc:
        # Live events come through Redis: without it the console cannot be kept current.
        # 1013 (try again later) without a traceback; the console reconnects with back-off.
        log.warning("console socket closed, Redis unavailable: %s", type(exc).__name__)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=1013, reason="redis unavailable")
    finally:
        receiver.cancel()
        with contextlib.suppress(RedisError):
            await pubsub.aclose()


async def _drain(websocket: WebSocket, sync_now: asyncio.Event) -> None:
    """Any message from the console (it sends one after claiming) asks for a resync now;
    a closed socket ends the loop."""
    try:
        while True:
            await websocket.receive_text()
            sync_now.set()
    except WebSocketDisconnect:
        return


def _socket_account(services: Services, token: str | None) -> Account | None:
    """The console socket's account: the same rule as the console's routes."""
    with session_scope(services.engine) as session:
        account = session_account(session, token, services.settings)
        if account is None or not policy.works_tickets(account):
            return None
        session.expunge(account)
        return account


def _console_snapshot(services: Services, account: Account) -> tuple[list[dict], list[dict]]:
    ctx = services.handoff
    if account.departments:
        duty.helper_heartbeat(account, ctx=ctx)
    tickets = [t.to_dict() for t in views.my_tickets(account, ctx=ctx)]
    departments = policy.visible_departments(account, ctx.config.departments)
    overview = [vars(q) for q in views.queue_overview(departments, ctx=ctx)]
    return tickets, overview
