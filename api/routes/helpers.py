"""The helper console's API, on top of the handoff package's functions.

Who may see and do what is decided by :mod:`xiaobao.policy`, as dependencies:
``TicketInMyDepartments`` and ``MessageInMyDepartments`` check a ticket's or a 留言's
department before any route runs (supervisors and admins may look at every department).
Queue logic stays in :mod:`handoff`; this file only maps requests to it and returns what the
console shows.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import (
    HandoffDep,
    HelperAccount,
    LeaderAccount,
    SessionDep,
    session_account,
    session_token,
)
from api.errors import ApiError, error_responses
from api.metrics import observe_queue_wait
from api.services import Services
from handoff import claims, closing, duty, escalation, left_messages, outbox, relay, transfer, views
from knowledge_base.card import Answerable, answer_card
from knowledge_base.schema import EntryData
from knowledge_base.store import EntryNotFound, get_entry, is_answerable, save_entry
from xiaobao import policy
from xiaobao.accounts import Account
from xiaobao.db import session_scope
from xiaobao.enums import CHANNELS, Channel
from xiaobao.events import EventKind, record_event

router = APIRouter(prefix="/api/helper", tags=["helper console"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))
socket_router = APIRouter(tags=["helper console"])
log = logging.getLogger("api.helpers")
MAX_NOTE_CHARS = 2000


def _ticket_in_my_departments(account: HelperAccount, ctx: HandoffDep,
                              ticket_id: Annotated[str, Path(max_length=32)]) -> str:
    department = views.ticket_department(ticket_id, ctx=ctx)  # UnknownTicket -> 404
    if not policy.can_see_department(account, department):
        raise ApiError(403, "department_not_allowed",
                       f"工单{ticket_id}属于{department}，不在您的部门范围内。"
                       f" / Ticket {ticket_id} belongs to another department.")
    return ticket_id


TicketInMyDepartments = Annotated[str, Depends(_ticket_in_my_departments)]


# --- the helper ---------------------------------------------------------------------------------

@router.get("/me")
def me(account: HelperAccount, ctx: HandoffDep) -> dict:
    return {"account": {"username": account.username, "display_name": account.display_name,
                        "roles": account.roles, "departments": account.departments},
            **duty.helper_state(account, ctx=ctx),
            "tickets": [t.to_dict() for t in views.my_tickets(account, ctx=ctx)],
            "all_departments": ctx.config.departments}


class StatusIn(BaseModel):
    status: Literal["on_duty", "away"]
    cap: int | None = Field(default=None, ge=1, le=20)


@router.post("/status")
def set_status(body: StatusIn, account: HelperAccount, ctx: HandoffDep) -> dict:
    """在岗 / 离开: an away helper is offered no ticket."""
    duty.set_helper_status(account, body.status, cap=body.cap, ctx=ctx)
    return {"status": body.status}


@router.post("/heartbeat")
def heartbeat(account: HelperAccount, ctx: HandoffDep) -> dict:
    duty.helper_heartbeat(account, ctx=ctx)
    return {"ok": True}


# --- queues and claiming ------------------------------------------------------------------------

@router.get("/queues")
def queues(account: HelperAccount, ctx: HandoffDep) -> dict:
    """Counts and oldest wait per channel and department (the departments the account sees)."""
    departments = policy.visible_departments(account, ctx.config.departments)
    return {"queues": [vars(q) for q in views.queue_overview(departments, ctx=ctx)]}


class ClaimIn(BaseModel):
    channel: Literal[CHANNELS] = Channel.ONLINE_HELPER.value  # type: ignore[valid-type]


@router.post("/claim")
def claim_next(body: ClaimIn, account: HelperAccount, ctx: HandoffDep) -> dict:
    """The next ticket of the helper's departments, or ``{"ticket": null}`` (none, or at cap)."""
    ticket = claims.claim_next_ticket(account, channel=body.channel, ctx=ctx)
    if ticket is not None:
        observe_queue_wait(ticket.channel, ticket.queued_at, ticket.claimed_at)
    return {"ticket": ticket.to_dict() if ticket else None}


@router.post("/tickets/{ticket_id}/claim")
def claim_named(ticket_id: TicketInMyDepartments, account: HelperAccount,
                ctx: HandoffDep) -> dict:
    """Take one ticket by id: a leader taking an escalated ticket, or picking from the list."""
    ticket = claims.claim_ticket(ticket_id, account, ctx=ctx)
    observe_queue_wait(ticket.channel, ticket.queued_at, ticket.claimed_at)
    return {"ticket": ticket.to_dict()}


@router.get("/tickets")
def my_tickets(account: HelperAccount, ctx: HandoffDep) -> dict:
    return {"tickets": [t.to_dict() for t in views.my_tickets(account, ctx=ctx)]}


@router.get("/tickets/{ticket_id}")
def ticket_detail(ticket_id: TicketInMyDepartments, account: HelperAccount,
                  session: SessionDep, ctx: HandoffDep) -> dict:
    """The context pack: the conversation, intent and entities, KB candidates, company.

    Each candidate carries ``card``, the text its one-click answer sends (the bot's answer card:
    source, link, validity, review), and ``answerable``; an entry deleted since the handoff
    has an empty card and is not answerable."""
    pack = views.context_pack(ticket_id, account, ctx=ctx)
    pack["candidates"] = [_with_card(session, c, ctx.max_chars) for c in pack["candidates"]]
    return pack


def _with_card(session: Session, candidate: dict, max_chars: int) -> dict:
    try:
        entry = get_entry(session, str(candidate.get("id", "")))
    except EntryNotFound:
        return {**candidate, "card": "", "answerable": False}
    return {**candidate, "card": _card_text(entry, max_chars),
            "answerable": is_answerable(entry)}


def _card_text(entry: Answerable, max_chars: int) -> str:
    """What a one-click answer sends, and the console shows beforehand: the answer card, cut
    to a message's length."""
    return answer_card(entry)[:max_chars]


# --- the leader's escalation queue (领导干部+工作人员帮办) ----------------------------------------

@router.get("/escalations")
def escalations(account: LeaderAccount, ctx: HandoffDep) -> dict:
    """Tickets of the leader's departments still unanswered after twice their service level,
    and complaints, each with its history; the leader takes one with ``POST
    /tickets/{id}/claim`` (a leader may take one a helper claimed but has not answered)."""
    return {"escalations": escalation.leader_queue(account, ctx=ctx)}


# --- talking to the user ------------------------------------------------------------------------

class MessageIn(BaseModel):
    text: str = Field(max_length=100_000)
    message_id: str | None = Field(default=None, max_length=64)  # makes a resend harmless


def _checked(text: str, max_chars: int) -> str:
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_message", "消息不能为空。 / The message is empty.")
    if len(text) > max_chars:
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，当前{len(text)}个字。"
                       f" / Message too long: at most {max_chars} characters, got {len(text)}.")
    return text


@router.post("/tickets/{ticket_id}/messages")
def send_message(ticket_id: TicketInMyDepartments, body: MessageIn, account: HelperAccount,
                 ctx: HandoffDep) -> dict:
    text = _checked(body.text, ctx.max_chars)
    return {"message": relay.send_helper_message(ticket_id, account, text,
                                                 message_id=body.message_id, ctx=ctx)}


class AnswerIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=64)


@router.post("/tickets/{ticket_id}/answer")
def answer_with_entry(ticket_id: TicketInMyDepartments, body: AnswerIn, account: HelperAccount,
                      session: SessionDep, ctx: HandoffDep) -> dict:
    """Send a knowledge-base entry's answer card (source and validity) in one click."""
    try:
        entry = get_entry(session, body.entry_id)
    except EntryNotFound:
        raise ApiError(404, "entry_not_found",
                       f"知识库条目{body.entry_id}不存在。 / No entry {body.entry_id!r}.") from None
    if not is_answerable(entry):
        raise ApiError(409, "entry_not_answerable",
                       f"知识库条目{body.entry_id}未发布或不在有效期内。"
                       f" / Entry {body.entry_id} is not published or not in force.")
    text = _card_text(entry, ctx.max_chars)
    return {"message": relay.send_helper_message(ticket_id, account, text, ctx=ctx,
                                                 kb_entry_id=entry.id)}


# --- closing and transferring -------------------------------------------------------------------

class NoteIn(BaseModel):
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class TransferIn(NoteIn):
    department: str = Field(min_length=1, max_length=64)


@router.post("/tickets/{ticket_id}/transfer")
def transfer_to(ticket_id: TicketInMyDepartments, body: TransferIn, account: HelperAccount,
                ctx: HandoffDep) -> dict:
    """To another department's queue, conversation attached, ahead of its normal tickets."""
    return {"ticket": transfer.transfer_ticket(ticket_id, account, body.department, body.note,
                                               ctx=ctx).to_dict()}


def _closed(ticket, ctx) -> dict:
    # The close handed the conversation back to the bot (which asks for the 好差评 rating)
    # unless Rasa could not be reached: then the outbox retries until it can.
    waiting = outbox.pending(ctx, ticket.conversation_id, kind=outbox.RETURNED)
    return {"ticket": ticket.to_dict(), "bot_resumed": waiting == 0}


@router.post("/tickets/{ticket_id}/resolve")
def resolve(ticket_id: TicketInMyDepartments, body: NoteIn, account: HelperAccount,
            ctx: HandoffDep) -> dict:
    return _closed(closing.resolve_ticket(ticket_id, account, body.note, ctx=ctx), ctx)


@router.post("/tickets/{ticket_id}/unresolve")
def unresolve(ticket_id: TicketInMyDepartments, body: NoteIn, account: HelperAccount,
              ctx: HandoffDep) -> dict:
    """Unresolved is final for the ticket; the user's next handoff is queued with priority."""
    return _closed(closing.mark_unresolved(ticket_id, account, body.note, ctx=ctx), ctx)


# --- 留言咨询: messages left out of hours or with nobody on duty ---------------------------------

def _message_in_my_departments(account: HelperAccount, ctx: HandoffDep,
                               message_id: Annotated[str, Path(max_length=32)]) -> str:
    department, status, answered_by = left_messages.message_department(message_id, ctx=ctx)
    if not policy.can_work_department(account, department):
        raise ApiError(403, "department_not_allowed",
                       f"留言{message_id}属于{department}，不在您的部门范围内。"
                       f" / Message {message_id} belongs to another department.")
    if status != "open":
        raise ApiError(409, "already_answered",
                       f"留言{message_id}已由{answered_by}答复。"
                       f" / Message {message_id} has already been answered.")
    return message_id


MessageInMyDepartments = Annotated[str, Depends(_message_in_my_departments)]


@router.get("/left-messages")
def open_left_messages(account: HelperAccount, ctx: HandoffDep) -> dict:
    """Unanswered 留言 of the departments the account sees, oldest first, numbers masked."""
    departments = policy.visible_departments(account, ctx.config.departments)
    return {"messages": [m.to_dict() for m in left_messages.open_messages(departments,
                                                                          ctx=ctx)]}


class LeftAnswerIn(BaseModel):
    answer: str = Field(max_length=100_000)


@router.post("/left-messages/{message_id}/answer")
def answer_left_message(message_id: MessageInMyDepartments, body: LeftAnswerIn,
                        account: HelperAccount, ctx: HandoffDep) -> dict:
    """Answer once; the user sees it at once when online (relay ``message_answered``), else on
    their return. Answering needs no duty status: 留言 are worked when the queue is quiet."""
    answer = _checked(body.answer, ctx.max_chars)
    info = left_messages.answer_message(message_id, account, answer, ctx=ctx)
    return {"message": info.to_dict()}


# --- the knowledge base keeps up (知识库动态更新) ------------------------------------------------

class DraftIn(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=20000)
    category: str = Field(default="", max_length=64)
    replaces_entry_id: str = Field(default="", max_length=64)  # a change to an existing entry
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


@router.post("/tickets/{ticket_id}/kb-draft", status_code=201)
def propose_kb_draft(ticket_id: TicketInMyDepartments, body: DraftIn, account: HelperAccount,
                     session: SessionDep, ctx: HandoffDep) -> dict:
    """A new or changed FAQ entry proposed from a resolution, as a draft for the editors.

    Saved as its own ``draft`` entry (never over the published one, which must keep
    answering until an editor accepts the change); drafts are not answerable, so nothing
    searchable changed and nothing is announced: an editor publishing the draft does that.
    The draft and its event are one transaction.
    """
    ticket = views.ticket(ticket_id, ctx=ctx)
    tags = ["helper_proposal", f"ticket:{ticket_id}"]
    if body.replaces_entry_id:
        try:
            get_entry(session, body.replaces_entry_id)
        except EntryNotFound:
            raise ApiError(404, "entry_not_found", f"知识库条目{body.replaces_entry_id}不存在。"
                           f" / No entry {body.replaces_entry_id!r}.") from None
        tags.append(f"replaces:{body.replaces_entry_id}")
    draft_id = f"draft-{uuid.uuid4().hex[:12]}"
    data = EntryData(id=draft_id, question=body.question, answer=body.answer,
                     category=body.category, department=ticket.department, tags=tags,
                     source=f"帮办人员{account.username}提议（工单{ticket_id}）", status="draft")
    save_entry(session, data, account.username, action="propose")
    record_event(session, EventKind.KB_DRAFT_PROPOSED, conversation_id=ticket.conversation_id,
                 ticket_id=ticket_id, actor=account.username, entry_id=draft_id,
                 replaces=body.replaces_entry_id, note=body.note)
    return {"draft_id": draft_id, "status": "draft"}


# --- live console -------------------------------------------------------------------------------

RESYNC_S = 2.0


@socket_router.websocket("/ws/console")
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
