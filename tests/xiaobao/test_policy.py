"""Who may see and do what: the rules every route, socket and handoff function asks."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from xiaobao import policy


@dataclass
class Who:
    username: str
    roles: list[str]
    departments: list[str] = field(default_factory=list)


HELPER_A = Who("a", ["helper"], ["A"])
HELPER_B = Who("b", ["helper"], ["B"])
LEADER_A = Who("la", ["leader"], ["A"])
EDITOR = Who("e", ["editor"])
SUPERVISOR = Who("s", ["supervisor"])
ADMIN = Who("root", ["admin"])


@pytest.mark.parametrize("who,works", [(HELPER_A, True), (LEADER_A, True), (ADMIN, True),
                                       (EDITOR, False), (SUPERVISOR, False)])
def test_who_works_tickets(who, works):
    assert policy.works_tickets(who) is works


@pytest.mark.parametrize("who,dept,sees", [
    (HELPER_A, "A", True), (HELPER_A, "B", False), (LEADER_A, "B", False),
    (SUPERVISOR, "B", True), (ADMIN, "B", True), (EDITOR, "A", False)])
def test_who_sees_a_department(who, dept, sees):
    assert policy.can_see_department(who, dept) is sees


@pytest.mark.parametrize("who,dept,works", [
    (HELPER_A, "A", True), (HELPER_A, "B", False), (SUPERVISOR, "A", False), (ADMIN, "B", True)])
def test_who_works_a_department(who, dept, works):
    assert policy.can_work_department(who, dept) is works


def test_acting_on_a_held_ticket():
    assert policy.can_act_on_ticket(HELPER_A, "A", "a")  # the holder
    assert not policy.can_act_on_ticket(Who("a2", ["helper"], ["A"]), "A", "a")  # a colleague
    assert policy.can_act_on_ticket(LEADER_A, "A", "a")  # the department's leader
    assert not policy.can_act_on_ticket(LEADER_A, "B", "b")  # another department's ticket
    assert policy.can_act_on_ticket(ADMIN, "B", "b")


def test_visible_departments_and_claiming():
    assert policy.visible_departments(HELPER_A, ["A", "B"]) == ["A"]
    assert policy.visible_departments(SUPERVISOR, ["A", "B"]) == ["A", "B"]
    assert policy.ticket_departments(HELPER_A) == ["A"]
    with pytest.raises(policy.Denied) as err:
        policy.ticket_departments(EDITOR)
    assert err.value.status == 403 and "/" in err.value.message
    with pytest.raises(policy.Denied):
        policy.ticket_departments(Who("x", ["helper"], []))


def test_full_phone_only_for_the_holder():
    assert policy.sees_full_phone("a", "a")
    assert not policy.sees_full_phone("b", "a")
    assert not policy.sees_full_phone(None, None)


# What each role may do, as the pages read it (GET /api/auth/me → can).
CAN = {
    "helper": {"claim_tickets"},
    "leader": {"claim_tickets", "lead", "read_reports", "review_bad_ratings",
               "overturn_unfounded", "read_work_lists"},
    "editor": {"edit_kb", "edit_policies", "read_kb_gaps"},
    "supervisor": {"read_kb_gaps", "read_reports", "review_bad_ratings", "see_all_departments",
                   "read_work_lists", "read_register"},
    "registrar": {"read_register", "manage_register"},
    "admin": {"claim_tickets", "lead", "edit_kb", "edit_policies", "read_kb_gaps",
              "read_reports", "review_bad_ratings", "overturn_unfounded", "see_all_departments",
              "read_work_lists", "read_register", "manage_register"},
}


@pytest.mark.parametrize("role", sorted(CAN))
def test_capabilities_of_each_role(role):
    can = policy.capabilities(Who("x", [role], ["A"]))
    assert all(isinstance(v, bool) for v in can.values())
    assert {name for name, allowed in can.items() if allowed} == CAN[role]
    assert set(can) == CAN["admin"]  # every name, true or false, for every account


def test_capabilities_of_several_roles_add_up():
    can = policy.capabilities(Who("x", ["editor", "supervisor"]))
    assert {name for name, allowed in can.items() if allowed} == CAN["editor"] | CAN["supervisor"]
    assert not any(policy.capabilities(Who("x", [])).values())


def test_work_lists_a_leader_of_the_department_decides_a_supervisor_reads():
    leader_a = Who("l", ["leader"], ["A"])
    assert policy.work_list_departments(leader_a) == ["A"]
    assert policy.work_list_departments(SUPERVISOR) is None
    policy.require_decide_work_item(leader_a, "A")
    for who, dept in ((leader_a, "B"), (SUPERVISOR, "A"), (HELPER_A, "A")):
        with pytest.raises(policy.Denied) as err:
            policy.require_decide_work_item(who, dept)
        assert err.value.status == 403
    with pytest.raises(policy.Denied):
        policy.work_list_departments(HELPER_A)
