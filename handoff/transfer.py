"""Transfer: a held ticket goes, conversation and all, to another department's queue, ahead of
its normal tickets; the note is said in the conversation as a system turn."""
from __future__ import annotations

from handoff import outbox, transitions
from handoff.context import HandoffContext
from handoff.store import get_ticket
from handoff.tickets import OWNED_STATES, TRANSFERRED, HandoffError, NotAllowed
from handoff.views import TicketInfo, ticket_info
from xiaobao import conversations, policy
from xiaobao.clock import utcnow
from xiaobao.enums import Speaker


def transfer_ticket(ticket_id: str, helper: policy.Actor, department: str, note: str = "", *,
                    ctx: HandoffContext) -> TicketInfo:
    if department not in ctx.config.departments:
        raise HandoffError(f"未知部门：{department}。 / Unknown department {department!r}.")
    with outbox.transaction(ctx) as s:
        t = get_ticket(s, ticket_id)
        if not policy.can_act_on_ticket(helper, t.department, t.helper):
            raise NotAllowed(f"工单{t.id}不由您处理。 / Ticket {t.id} is not yours.")
        if t.department == department:
            raise HandoffError("不能转给本部门。 / Already in that department.")
        previous = t.department
        moved = transitions.move(
            s, ticket_id, TRANSFERRED, actor=helper.username,
            reason=f"{previous} → {department}：{note}", expect=OWNED_STATES,
            event_data={"from_department": previous, "to_department": department},
            department=department, helper=None, priority=1, queued_at=utcnow(),
            claimed_at=None, first_response_at=None, note=note[:ctx.max_chars])
        if moved is None:
            raise HandoffError(f"工单{ticket_id}状态已变化，请刷新。 / Ticket {ticket_id} changed "
                               f"meanwhile; reload.")
        said = conversations.append(s, moved.conversation_id, Speaker.SYSTEM,
                                    f"已转至{department}：{note}"[:ctx.max_chars],
                                    ticket_id=moved.id, author=helper.username)
        outbox.add(s, moved.conversation_id, outbox.RELAY, **conversations.view(said).to_dict())
        s.flush()
        s.expunge(moved)
    return ticket_info(moved, helper.username)
