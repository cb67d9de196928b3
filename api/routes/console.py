"""The helper console's API, on top of the handoff package's functions: the helper's status,
queues and claiming, tickets, talking to the user, closing and transferring, and proposing a
knowledge-base entry. The console's 留言 answers: ``console_left_messages``; its live socket:
``console_socket``.

Who may see and do what is decided by :mod:`xiaobao.policy`, as dependencies (the three
routes that read — queues, a ticket, its messages — take ``TicketReader``, which an API token
with ``tickets:read`` passes too):
``TicketInMyDepartments`` and ``MessageInMyDepartments`` check a ticket's or a 留言's
department before any route runs (supervisors and admins may look at every department).
Queue logic stays in :mod:`handoff`; this file only maps requests to it and returns what the
console shows.
"""
from __future__ import annotations

import logging
import uuid
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import (
    HandoffDep,
    HelperAccount,
    LeaderAccount,
    SessionDep,
    TicketInMyDepartments,
    TicketReader,
)
from api.errors import ApiError, error_responses
from api.metrics import observe_queue_wait
from api.user_text import helper_text
from handoff import claims, closing, duty, escalation, outbox, relay, transfer, views
from knowledge_base.card import Answerable, answer_card
from knowledge_base.schema import EntryData
from knowledge_base.store import EntryNotFound, get_entry, is_answerable, save_entry
from policies.checkups import checkup_of
from xiaobao import clock, policy
from xiaobao.enums import CHANNELS, Channel
from xiaobao.events import EventKind, record_event

router = APIRouter(prefix="/api/helper", tags=["helper console"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))
log = logging.getLogger("api.console")
MAX_NOTE_CHARS = 2000
MAX_ID = 2**31 - 1  # a message id (the record's integer key) fits a 32-bit column


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
def queues(account: TicketReader, ctx: HandoffDep) -> dict:
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
def ticket_detail(ticket_id: TicketInMyDepartments, account: TicketReader,
                  session: SessionDep, ctx: HandoffDep) -> dict:
    """The context pack: the conversation, intent and entities, KB candidates, company.

    Each candidate carries ``card``, the text its one-click answer sends (the bot's answer card:
    source, link, validity, review), and ``answerable``; an entry deleted since the handoff
    has an empty card and is not answerable.

    ``policy_check``: the conversation's 政策体检 (the facts given, with their labels; what the
    published policies decide today), or null; typed text masked as the ticket's fields are."""
    pack = views.context_pack(ticket_id, account, ctx=ctx)
    pack["candidates"] = [_with_card(session, c, ctx.max_chars) for c in pack["candidates"]]
    ticket = pack["ticket"]
    pack["policy_check"] = checkup_of(
        session, ticket["conversation_id"], clock.today(),
        masked=not policy.sees_full_phone(account.username, ticket["helper"]))
    return pack


@router.get("/tickets/{ticket_id}/messages")
def ticket_messages(ticket_id: TicketInMyDepartments, account: TicketReader, ctx: HandoffDep,
                    after: int = Query(default=0, ge=0, le=MAX_ID)) -> dict:
    """The ticket's messages after the one with id ``after``, in order: what a console that
    was away (its socket dropped) re-reads, so nothing said meanwhile is missing."""
    return {"messages": views.ticket_messages(ticket_id, account, after_pk=after, ctx=ctx)}


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


@router.post("/tickets/{ticket_id}/messages")
def send_message(ticket_id: TicketInMyDepartments, body: MessageIn, account: HelperAccount,
                 ctx: HandoffDep) -> dict:
    text = helper_text(body.text, ctx.max_chars)
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


