"""The helper console's API, on top of the handoff module's functions.

A helper (or leader) sees only their departments' tickets: ``TicketInMyDepartments``
checks that before any route runs; supervisors and admins may look at every
department. Queue logic stays in :mod:`handoff.dispatch`; this file only maps
requests to it and returns what the console shows.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import (
    SESSION_ACCOUNT_KEY,
    EngineDep,
    HelperAccount,
    LeaderAccount,
    RedisDep,
    SessionDep,
    SettingsDep,
    sees_all_departments,
)
from api.errors import ApiError
from api.routes.chat import resume_bot
from handoff import dispatch, escalation, messages, relay
from handoff.config import default_config
from handoff.store import HelperStatus, LeftMessage, get_ticket
from knowledge_base.schema import EntryData
from knowledge_base.store import EntryNotFound, get_entry, is_answerable, save_entry
from xiaobao.accounts import Account
from xiaobao.db import session_scope
from xiaobao.events import record_event

router = APIRouter(prefix="/api/helper", tags=["helper console"])
socket_router = APIRouter(tags=["helper console"])
log = logging.getLogger("api.helpers")
MAX_NOTE_CHARS = 2000


def _ticket_in_my_departments(account: HelperAccount, engine: EngineDep,
                              ticket_id: Annotated[str, Path(max_length=32)]) -> str:
    with session_scope(engine) as session:
        department = get_ticket(session, ticket_id).department  # UnknownTicket -> 404
    if department not in account.departments and not sees_all_departments(account):
        raise ApiError(403, "department_not_allowed",
                       f"工单{ticket_id}属于{department}，不在您的部门范围内。"
                       f" / Ticket {ticket_id} belongs to another department.")
    return ticket_id


TicketInMyDepartments = Annotated[str, Depends(_ticket_in_my_departments)]


# --- the helper ---------------------------------------------------------------------------------

def _helper_state(session, account: Account) -> dict:
    row = session.get(HelperStatus, account.username)
    return {"status": row.status if row else "away",
            "cap": (row.cap if row and row.cap else default_config().concurrency_cap)}


@router.get("/me")
def me(account: HelperAccount, session: SessionDep, engine: EngineDep) -> dict:
    return {"account": {"username": account.username, "display_name": account.display_name,
                        "roles": account.roles, "departments": account.departments},
            **_helper_state(session, account),
            "tickets": [t.to_dict() for t in dispatch.my_tickets(account, engine=engine)],
            "all_departments": default_config().departments}


class StatusIn(BaseModel):
    status: Literal["on_duty", "away"]
    cap: int | None = Field(default=None, ge=1, le=20)


@router.post("/status")
def set_status(body: StatusIn, account: HelperAccount, engine: EngineDep, redis: RedisDep) -> dict:
    """在岗 / 离开: an away helper is offered no ticket."""
    dispatch.set_helper_status(account, body.status, cap=body.cap, engine=engine, redis=redis)
    return {"status": body.status}


@router.post("/heartbeat")
def heartbeat(account: HelperAccount, redis: RedisDep) -> dict:
    dispatch.helper_heartbeat(account, redis=redis)
    return {"ok": True}


# --- queues and claiming ------------------------------------------------------------------------

@router.get("/queues")
def queues(account: HelperAccount, engine: EngineDep, redis: RedisDep) -> dict:
    """Counts and oldest wait per channel and department (the helper's departments)."""
    departments = None if sees_all_departments(account) else list(account.departments)
    overview = dispatch.queue_overview(departments, engine=engine, redis=redis)
    return {"queues": [vars(q) for q in overview]}


class ClaimIn(BaseModel):
    channel: Literal["online_helper", "hotline_12345"] = "online_helper"


@router.post("/claim")
def claim_next(body: ClaimIn, account: HelperAccount, engine: EngineDep, redis: RedisDep) -> dict:
    """The next ticket of the helper's departments, or ``{"ticket": null}`` (none, or at cap)."""
    ticket = dispatch.claim_next_ticket(account, channel=body.channel, engine=engine, redis=redis)
    return {"ticket": ticket.to_dict() if ticket else None}


@router.post("/tickets/{ticket_id}/claim")
def claim_named(ticket_id: TicketInMyDepartments, account: HelperAccount, engine: EngineDep,
                redis: RedisDep) -> dict:
    """Take one ticket by id: a leader taking an escalated ticket, or picking from the list."""
    return {"ticket": dispatch.claim_ticket(ticket_id, account, engine=engine,
                                            redis=redis).to_dict()}


@router.get("/tickets")
def my_tickets(account: HelperAccount, engine: EngineDep) -> dict:
    return {"tickets": [t.to_dict() for t in dispatch.my_tickets(account, engine=engine)]}


@router.get("/tickets/{ticket_id}")
def ticket_detail(ticket_id: TicketInMyDepartments, account: HelperAccount,
                  engine: EngineDep) -> dict:
    """The context pack: transcript, intent and entities, KB candidates with scores, company."""
    return dispatch.context_pack(ticket_id, account, engine=engine)


# --- the leader's escalation queue (领导干部+工作人员帮办) ----------------------------------------

@router.get("/escalations")
def escalations(account: LeaderAccount, engine: EngineDep) -> dict:
    """Tickets of the leader's departments still unanswered after twice their service level,
    and complaints, each with its history; the leader takes one with ``POST
    /tickets/{id}/claim`` (a leader may take one a helper claimed but has not answered)."""
    return {"escalations": escalation.leader_queue(account, engine=engine)}


# --- talking to the user ------------------------------------------------------------------------

class MessageIn(BaseModel):
    text: str = Field(max_length=100_000)
    message_id: str | None = Field(default=None, max_length=64)  # makes a resend harmless


def _send(ticket_id: str, account: Account, text: str, message_id: str | None, engine,
          redis, max_chars: int) -> dict:
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_message", "消息不能为空。 / The message is empty.")
    if len(text) > max_chars:
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，当前{len(text)}个字。"
                       f" / Message too long: at most {max_chars} characters, got {len(text)}.")
    return relay.send_helper_message(ticket_id, account, text, message_id=message_id,
                                     engine=engine, redis=redis)


@router.post("/tickets/{ticket_id}/messages")
def send_message(ticket_id: TicketInMyDepartments, body: MessageIn, account: HelperAccount,
                 engine: EngineDep, redis: RedisDep, settings: SettingsDep) -> dict:
    return {"message": _send(ticket_id, account, body.text, body.message_id, engine, redis,
                             settings.max_message_chars)}


class AnswerIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=64)


def kb_answer_text(entry) -> str:
    """A knowledge-base entry as the helper sends it: answer, source, validity."""
    lines = [entry.answer.strip()]
    if entry.source or entry.source_url:
        lines.append(f"来源：{entry.source}" + (f"（{entry.source_url}）" if entry.source_url else ""))
    if entry.effective_from or entry.expires_on:
        start = entry.effective_from.isoformat() if entry.effective_from else "发布之日"
        end = entry.expires_on.isoformat() if entry.expires_on else "长期有效"
        lines.append(f"有效期：{start} 至 {end}")
    return "\n".join(lines)


@router.post("/tickets/{ticket_id}/answer")
def answer_with_entry(ticket_id: TicketInMyDepartments, body: AnswerIn, account: HelperAccount,
                      session: SessionDep, engine: EngineDep, redis: RedisDep,
                      settings: SettingsDep) -> dict:
    """Send a knowledge-base entry's answer (with its source and validity) in one click."""
    try:
        entry = get_entry(session, body.entry_id)
    except EntryNotFound:
        raise ApiError(404, "entry_not_found",
                       f"知识库条目{body.entry_id}不存在。 / No entry {body.entry_id!r}.") from None
    if not is_answerable(entry):
        raise ApiError(409, "entry_not_answerable",
                       f"知识库条目{body.entry_id}未发布或不在有效期内。"
                       f" / Entry {body.entry_id} is not published or not in force.")
    text = kb_answer_text(entry)[:settings.max_message_chars]
    message = _send(ticket_id, account, text, None, engine, redis, settings.max_message_chars)
    record_event(session, "helper_kb_answer", conversation_id=message["conversation_id"],
                 ticket_id=ticket_id, actor=account.username, entry_id=entry.id)
    return {"message": message}


# --- closing and transferring -------------------------------------------------------------------

class NoteIn(BaseModel):
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class TransferIn(NoteIn):
    department: str = Field(min_length=1, max_length=64)


@router.post("/tickets/{ticket_id}/transfer")
def transfer(ticket_id: TicketInMyDepartments, body: TransferIn, account: HelperAccount,
             engine: EngineDep, redis: RedisDep) -> dict:
    """To another department's queue, transcript attached, ahead of its normal tickets."""
    return {"ticket": dispatch.transfer_ticket(ticket_id, account, body.department, body.note,
                                               engine=engine, redis=redis).to_dict()}


async def _close_and_resume(close, ticket_id: str, account: Account, note: str,
                            app: FastAPI) -> dict:
    ticket = await run_in_threadpool(close, ticket_id, account, note, engine=app.state.engine,
                                     redis=app.state.redis)
    # Back to the bot, which asks for the 好差评 rating of the human service. When Rasa is
    # down the user's next message resumes it (see routes/chat.py).
    messages = await resume_bot(app, ticket.conversation_id, ask_rating=True)
    return {"ticket": ticket.to_dict(), "bot_resumed": messages is not None}


@router.post("/tickets/{ticket_id}/resolve")
async def resolve(ticket_id: TicketInMyDepartments, body: NoteIn, account: HelperAccount,
                  request: Request) -> dict:
    return await _close_and_resume(dispatch.resolve_ticket, ticket_id, account, body.note,
                                   request.app)


@router.post("/tickets/{ticket_id}/unresolve")
async def unresolve(ticket_id: TicketInMyDepartments, body: NoteIn, account: HelperAccount,
                    request: Request) -> dict:
    """Unresolved is final for the ticket; the user's next handoff is queued with priority."""
    return await _close_and_resume(dispatch.mark_unresolved, ticket_id, account, body.note,
                                   request.app)


# --- 留言咨询: messages left out of hours or with nobody on duty ---------------------------------

def _message_in_my_departments(account: HelperAccount, engine: EngineDep,
                               message_id: Annotated[str, Path(max_length=32)]) -> str:
    with session_scope(engine) as session:
        message = session.get(LeftMessage, message_id)
        if message is None:
            raise ApiError(404, "unknown_message",
                           f"找不到留言{message_id}。 / Unknown message {message_id!r}.")
        if message.department not in account.departments:
            raise ApiError(403, "department_not_allowed",
                           f"留言{message_id}属于{message.department}，不在您的部门范围内。"
                           f" / Message {message_id} belongs to another department.")
        if message.status != "open":
            raise ApiError(409, "already_answered",
                           f"留言{message_id}已由{message.answered_by}答复。"
                           f" / Message {message_id} has already been answered.")
    return message_id


MessageInMyDepartments = Annotated[str, Depends(_message_in_my_departments)]


@router.get("/left-messages")
def left_messages(account: HelperAccount, engine: EngineDep) -> dict:
    """Unanswered 留言 of the helper's departments, oldest first, phone numbers masked."""
    departments = (default_config().departments if sees_all_departments(account)
                   else list(account.departments))
    return {"messages": [m.to_dict() for m in messages.open_messages(departments, engine=engine)]}


class LeftAnswerIn(BaseModel):
    answer: str = Field(max_length=100_000)


@router.post("/left-messages/{message_id}/answer")
def answer_left_message(message_id: MessageInMyDepartments, body: LeftAnswerIn,
                        account: HelperAccount, engine: EngineDep, redis: RedisDep,
                        settings: SettingsDep) -> dict:
    """Answer once; the user sees it at once when online (relay ``message_answered``), else on
    their return. Answering needs no duty status: 留言 are worked when the queue is quiet."""
    answer = body.answer.strip()
    if not answer:
        raise ApiError(422, "empty_message", "答复不能为空。 / The answer is empty.")
    if len(answer) > settings.max_message_chars:
        raise ApiError(413, "message_too_long",
                       f"答复太长了：最多{settings.max_message_chars}个字，当前{len(answer)}个字。"
                       f" / Answer too long: at most {settings.max_message_chars} characters.")
    info = messages.answer_message(message_id, account, answer, engine=engine, redis=redis)
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
                     session: SessionDep) -> dict:
    """A new or changed FAQ entry proposed from a resolution, as a draft for the editors.

    Saved as its own ``draft`` entry (never over the published one, which must keep
    answering until an editor accepts the change); drafts are not answerable. Nothing
    searchable changed, so the index is not refreshed: an editor publishing the draft is
    what refreshes it (and announces it to the other gateways).
    """
    ticket = get_ticket(session, ticket_id)
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
    record_event(session, "kb_draft_proposed", conversation_id=ticket.conversation_id,
                 ticket_id=ticket_id, actor=account.username, entry_id=draft_id,
                 replaces=body.replaces_entry_id, note=body.note)
    return {"draft_id": draft_id, "status": "draft"}


# --- live console -------------------------------------------------------------------------------

RESYNC_S = 2.0


@socket_router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    """The user's messages on the helper's tickets, ticket changes, and the queue overview.

    Keeps the helper's heartbeat while the console is open: closing it means "gone away".
    """
    app = websocket.app
    account = await run_in_threadpool(_socket_account, app, websocket.session.get(SESSION_ACCOUNT_KEY))
    if account is None:
        await websocket.close(code=4401, reason="not logged in as helper")
        return
    await websocket.accept()
    pubsub = app.state.aredis.pubsub()
    await pubsub.subscribe("xiaobao:console:noop")  # get_message needs a subscription
    subscribed: dict[str, str] = {}  # relay channel -> ticket id
    sync_now = asyncio.Event()
    receiver = asyncio.create_task(_drain(websocket, sync_now))
    last_sync = 0.0
    try:
        while not receiver.done():
            now = asyncio.get_running_loop().time()
            if now - last_sync >= RESYNC_S or sync_now.is_set():
                sync_now.clear()
                last_sync = now
                tickets, overview = await run_in_threadpool(_console_snapshot, app, account)
                wanted = {relay.relay_channel(t["conversation_id"]): t["id"] for t in tickets}
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
    finally:
        receiver.cancel()
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


def _socket_account(app: FastAPI, account_id: object) -> Account | None:
    if not isinstance(account_id, int):
        return None
    with session_scope(app.state.engine) as session:
        account = session.get(Account, account_id)
        if account is None or not account.active:
            return None
        if not {"helper", "leader", "admin"}.intersection(account.roles):
            return None
        session.expunge(account)
        return account


def _console_snapshot(app: FastAPI, account: Account) -> tuple[list[dict], list[dict]]:
    engine, redis = app.state.engine, app.state.redis
    if account.departments:
        dispatch.helper_heartbeat(account, redis=redis)
    tickets = [t.to_dict() for t in dispatch.my_tickets(account, engine=engine)]
    departments = None if sees_all_departments(account) else list(account.departments)
    overview = [vars(q) for q in dispatch.queue_overview(departments, engine=engine, redis=redis)]
    return tickets, overview
