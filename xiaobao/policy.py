"""Who may see and do what: the one place that decides.

Routes, WebSockets and the handoff functions ask here and nowhere else. Roles are
:data:`ROLES`; ``admin`` may do everything, ``supervisor`` may look at every
department but works no ticket. A helper or leader works only the departments on their
account; a leader may also act on tickets a colleague of theirs holds.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from xiaobao.errors import XiaobaoError


class Actor(Protocol):
    """What a decision needs to know of an account: ``xiaobao.accounts.Account`` fits."""

    username: str
    roles: list[str]
    departments: list[str]


class Denied(XiaobaoError, PermissionError):
    """Not allowed; ``message`` is Chinese for the person, then English."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str, code: str = "forbidden"):
        super().__init__(message, code=code)


# every role an account may hold; "registrar" keeps the enterprise register (一企一档)
ROLES = ("helper", "leader", "editor", "supervisor", "admin", "registrar")
DEMO_ROLES = ("admin", "helper", "leader")  # the fresh install's demo account works every queue
TICKET_ROLES = frozenset({"helper", "leader"})  # who works handoff tickets
LOOK_EVERYWHERE_ROLES = frozenset({"supervisor", "admin"})
EDITOR_ROLES = frozenset({"editor"})
POLICY_EDITOR_ROLES = EDITOR_ROLES  # 政策体检's store: the knowledge editors write it too
SUPERVISOR_ROLES = frozenset({"supervisor"})
REPORT_ROLES = frozenset({"supervisor", "leader"})  # who reads the rates and reviews 差评
# The enterprise register is personal and commercial data: staff of these roles only. The
# registrar loads and exports it; supervisors read it (each read logged with its reason).
REGISTER_READ_ROLES = frozenset({"registrar", "supervisor"})
REGISTER_MANAGE_ROLES = frozenset({"registrar"})

# What an API token's scope opens (xiaobao.tokens): one rule below each, never a role. A
# "…:read" scope counts only for requests that read (GET, HEAD). A token has no department:
# what it reads, it reads for every department.
#   scope          rule              the routes it opens
#   reports:read   reads_reports     GET /api/reports/summary, series, export, clusters, targets,
#                                    bad-ratings; GET /api/worklists/outcomes
#   tickets:read   reads_tickets     GET /api/helper/queues, /api/helper/tickets/{id} and
#                                    /api/helper/tickets/{id}/messages
#   kb:write       edits_knowledge   every /api/kb/ route of the editors (entries, versions,
#                                    publish, imports, exports, the hit test, helpers' drafts;
#                                    not the knowledge gaps)
#   exports:read   exports_records   GET /api/exports/conversations, tickets, complaints: the
#                                    record itself (what visitors wrote, helpers, ratings), so
#                                    a scope of its own, never reports:read's
SCOPES = {
    "reports:read": "读取服务报表与差评 / read the service rates, reports and 差评 cases",
    "tickets:read": "读取工单与队列 / read tickets, their messages and the queues",
    "kb:write": "编辑知识库 / read and write the knowledge base",
    "exports:read": "导出会话、工单与差评记录（含个人信息）/ export conversations, tickets and "
                    "差评 cases (personal data)",
}


def _roles(actor: Actor) -> set[str]:
    return set(actor.roles or [])


def _scopes(actor: Actor) -> frozenset[str]:
    """An API token's scopes (xiaobao.tokens.TokenPrincipal); an account has none."""
    return frozenset(getattr(actor, "scopes", ()) or ())


def is_token(actor: Actor) -> bool:
    return hasattr(actor, "scopes")


def has_role(actor: Actor, *roles: str) -> bool:
    """Any of ``roles``; admin holds every role."""
    held = _roles(actor)
    return "admin" in held or bool(held & set(roles))


def is_admin(actor: Actor) -> bool:
    return "admin" in _roles(actor)


def is_leader(actor: Actor) -> bool:
    return "leader" in _roles(actor) or is_admin(actor)


def reads_reports(actor: Actor) -> bool:
    """The rates, the dashboard and the 差评 queue: supervisors, leaders (and admin); a token
    with ``reports:read``."""
    return has_role(actor, *REPORT_ROLES) or "reports:read" in _scopes(actor)


def exports_records(actor: Actor) -> bool:
    """Conversations, tickets and 差评 cases exported by date range: the report readers (and
    admin); a token with ``exports:read`` (never ``reports:read`` alone: the export is the
    record, the reports are its counts)."""
    return has_role(actor, *REPORT_ROLES) or "exports:read" in _scopes(actor)


def works_tickets(actor: Actor) -> bool:
    return has_role(actor, *TICKET_ROLES)


def reads_tickets(actor: Actor) -> bool:
    """The queues, a ticket's context and messages: whoever works tickets; a token with
    ``tickets:read``."""
    return works_tickets(actor) or "tickets:read" in _scopes(actor)


def edits_knowledge(actor: Actor) -> bool:
    """Entries, imports, exports, the hit test and helpers' proposals: editors (and admin); a
    token with ``kb:write``."""
    return has_role(actor, *EDITOR_ROLES) or "kb:write" in _scopes(actor)


def edits_policies(actor: Actor) -> bool:
    """The 政策体检 store: policy items, their versions, imports, exports and the test panel
    (editors, and admin). Publishing also needs a second person (policies.store.publish)."""
    return has_role(actor, *POLICY_EDITOR_ROLES)


def reads_knowledge_gaps(actor: Actor) -> bool:
    """The knowledge gaps: editors act on them, supervisors read them (and admin)."""
    return has_role(actor, *EDITOR_ROLES, *SUPERVISOR_ROLES)


def reads_register(actor: Actor) -> bool:
    """One enterprise's record in the register (一企一档): registrars, supervisors (and
    admin); never an enterprise or an anonymous visitor."""
    return has_role(actor, *REGISTER_READ_ROLES)


def manages_register(actor: Actor) -> bool:
    """Imports into and exports of the whole register: registrars (and admin)."""
    return has_role(actor, *REGISTER_MANAGE_ROLES)


def require_register_read(actor: Actor, reason: str) -> None:
    """A person's read of one enterprise's record: their role allows it and they said why
    (the register logs who, when and why: enterprises.register.read_profile)."""
    if not reads_register(actor):
        raise Denied("您无权查阅企业档案。 / You may not read the enterprise register.",
                     "register_not_allowed")
    if not reason.strip():
        raise Denied("查阅企业档案须说明理由。 / A read of an enterprise's record needs a "
                     "reason.", "reason_required")


def require_register_manage(actor: Actor) -> None:
    if not manages_register(actor):
        raise Denied("您无权导入或导出企业登记簿。 / You may not import or export the "
                     "enterprise register.", "register_not_allowed")


def sees_all_departments(actor: Actor) -> bool:
    return bool(_roles(actor) & LOOK_EVERYWHERE_ROLES)


def _reads_everywhere(actor: Actor) -> bool:
    """Supervisors and admin; a token (whose scopes, not departments, limit what it reads)."""
    return sees_all_departments(actor) or is_token(actor)


def visible_departments(actor: Actor, all_departments: Iterable[str]) -> list[str]:
    """The departments whose queues, tickets and 留言 this account may look at."""
    if _reads_everywhere(actor):
        return list(all_departments)
    mine = set(actor.departments or [])
    return [d for d in all_departments if d in mine]


def report_departments(actor: Actor) -> list[str] | None:
    """The departments whose 差评 and reports' examples this account reads; None: all of them
    (supervisors, admin, a token). A department leader reads its own departments' only."""
    return None if _reads_everywhere(actor) else list(actor.departments or [])


def can_see_department(actor: Actor, department: str) -> bool:
    return _reads_everywhere(actor) or department in (actor.departments or [])


def can_work_department(actor: Actor, department: str) -> bool:
    """Claim, answer or close work of ``department`` (its own departments; admin anywhere)."""
    return works_tickets(actor) and (is_admin(actor) or department in (actor.departments or []))


def can_act_on_ticket(actor: Actor, department: str, holder: str | None) -> bool:
    """Resolve, transfer or close a held ticket: its holder, or a leader of its department."""
    if holder is not None and holder == actor.username:
        return True
    return is_leader(actor) and can_work_department(actor, department)


def ticket_departments(actor: Actor) -> list[str]:
    """The departments whose queues a helper claims from; Denied when they cannot claim."""
    if not works_tickets(actor):
        raise Denied(f"账号 {actor.username} 不是帮办人员。 / {actor.username} is not a helper "
                     f"or leader.", "not_a_helper")
    if not actor.departments:
        raise Denied(f"账号 {actor.username} 未分配部门。 / {actor.username} has no department.",
                     "no_department")
    return list(actor.departments)


def require_see_department(actor: Actor, department: str, what: str) -> None:
    if not can_see_department(actor, department):
        raise Denied(f"{what}属于{department}，不在您的部门范围内。 / {what} belongs to another "
                     f"department.", "department_not_allowed")


def require_work_department(actor: Actor, department: str, what: str) -> None:
    if not can_work_department(actor, department):
        raise Denied(f"{what}属于{department}，不在您的部门范围内。 / {what} belongs to another "
                     f"department.", "department_not_allowed")


def require_act_on_ticket(actor: Actor, ticket_id: str, department: str,
                          holder: str | None) -> None:
    if not can_act_on_ticket(actor, department, holder):
        raise Denied(f"工单{ticket_id}不由您处理。 / Ticket {ticket_id} is not yours.",
                     "not_your_ticket")


def require_leader(actor: Actor) -> None:
    if not is_leader(actor):
        raise Denied("只有部门领导可以查看升级队列。 / Only leaders see the escalation queue.",
                     "not_a_leader")


def reads_work_lists(actor: Actor) -> bool:
    """The departments' 免申即享 work lists: a department's leaders (their departments'),
    supervisors (every department, read only), admin."""
    return is_leader(actor) or sees_all_departments(actor)


def work_list_departments(actor: Actor) -> list[str] | None:
    """The departments whose work lists this account reads; None: every one. Denied when
    it reads none."""
    if not reads_work_lists(actor):
        raise Denied("您无权查看免申即享待办。 / You may not read the 免申即享 work lists.",
                     "work_list_not_allowed")
    return None if sees_all_departments(actor) else list(actor.departments or [])


def require_decide_work_item(actor: Actor, department: str) -> None:
    """Confirm, decline or record the grant of a work item: a leader of its department
    (admin anywhere); a supervisor reads but does not decide."""
    if not (is_admin(actor) or (is_leader(actor) and department in (actor.departments or []))):
        raise Denied(f"只有{department or '该部门'}的负责人可以审核这条免申即享待办。 / Only a "
                     "leader of the item's department may decide it.", "work_item_not_allowed")


def manages_tokens(actor: Actor) -> bool:
    """The API tokens' list, making and revoking (``/api/tokens``): supervisors (and admin);
    never a token. What a person may grant is :func:`require_grant`'s."""
    return has_role(actor, *SUPERVISOR_ROLES) and not is_token(actor)


def require_grant(actor: Actor, scopes: Iterable[str]) -> None:
    """A token is given only scopes whose rule its maker passes: a supervisor grants
    ``reports:read`` and ``exports:read``, admin any (nobody hands on rights they do not
    hold)."""
    rules = {"reports:read": reads_reports, "tickets:read": reads_tickets,
             "kb:write": edits_knowledge, "exports:read": exports_records}
    beyond = sorted(s for s in scopes if s in rules and not rules[s](actor))
    if beyond:
        named = ", ".join(beyond)
        raise Denied(f"您不能授予自己没有的权限：{named} / You cannot grant a scope you do not "
                     f"hold: {named}", "scope_not_yours")


def sees_full_phone(actor_name: str | None, holder: str | None) -> bool:
    """Phone numbers are shown in full only to the helper handling the ticket."""
    return bool(actor_name) and actor_name == holder


def capabilities(actor: Actor) -> dict[str, bool]:
    """What the signed-in account may do, by name, for the pages (``GET /api/auth/me`` →
    ``can``): they show or hide what these say and never read role names. Each is one of the
    rules above, so a page and the route it calls cannot disagree; the routes still check."""
    return {
        "claim_tickets": works_tickets(actor),  # the console: claim, answer, transfer, close
        "lead": is_leader(actor),  # the escalation queue; act on a colleague's ticket
        "edit_kb": edits_knowledge(actor),
        "edit_policies": edits_policies(actor),  # the workbench's 政策 panel
        "read_kb_gaps": reads_knowledge_gaps(actor),  # the editor page (gaps only, read-only)
        "read_reports": reads_reports(actor),  # the dashboard: rates and the 差评 queue
        "review_bad_ratings": reads_reports(actor),
        "overturn_unfounded": is_leader(actor),  # a 不属实 review of a 差评
        "see_all_departments": sees_all_departments(actor),
        "read_work_lists": reads_work_lists(actor),  # 免申即享 work lists
        "read_register": reads_register(actor),  # 一企一档: one enterprise, with a reason
        "manage_register": manages_register(actor),  # its imports and exports
    }
