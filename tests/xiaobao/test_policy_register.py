"""Who may read the enterprise register and who may import or export it (xiaobao.policy)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from xiaobao import policy


@dataclass
class Who:
    username: str
    roles: list[str]
    departments: list[str] = field(default_factory=list)


READS = {"registrar": True, "supervisor": True, "admin": True, "helper": False,
         "leader": False, "editor": False}
MANAGES = {"registrar": True, "admin": True, "supervisor": False, "helper": False,
           "leader": False, "editor": False}


def test_registrar_is_a_role():
    assert "registrar" in policy.ROLES and len(set(policy.ROLES)) == len(policy.ROLES)


@pytest.mark.parametrize("role", sorted(READS))
def test_who_reads_and_who_manages(role):
    who = Who("x", [role])
    assert policy.reads_register(who) is READS[role]
    assert policy.manages_register(who) is MANAGES[role]
    if MANAGES[role]:
        policy.require_register_manage(who)
    else:
        with pytest.raises(policy.Denied):
            policy.require_register_manage(who)


def test_a_read_needs_the_role_and_a_reason():
    policy.require_register_read(Who("s", ["supervisor"]), "核对名单")
    with pytest.raises(policy.Denied) as no_reason:
        policy.require_register_read(Who("s", ["supervisor"]), " ")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(policy.Denied) as no_role:
        policy.require_register_read(Who("h", ["helper"]), "核对")
    assert no_role.value.code == "register_not_allowed"
    assert not policy.reads_register(Who("nobody", []))
