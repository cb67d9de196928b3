"""`xiaobao tokens add / list / revoke` against a temp database: the token printed once (alone
on standard output), never listed, refused once revoked."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from xiaobao import db, tokens
from xiaobao.tokens_cli import app


def add(*args: str):
    return CliRunner().invoke(app, ["add", *args])


def test_add_prints_the_token_once_and_list_never_shows_it(home):
    added = add("oa-12345", "--scope", "tickets:read", "--scope", "reports:read",
                "--expires", "2099-12-31")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert re.fullmatch(r"xb_[A-Za-z0-9_-]{43}", token)  # standard output holds it alone
    assert "shown once" in added.stderr and "reports:read,tickets:read" in added.stderr

    listed = CliRunner().invoke(app, ["list"])
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split("\t") == ["name", "token", "scopes", "created", "expires", "last_used",
                                  "revoked", "state"]
    name, prefix, scopes, _, expires, last_used, revoked, state = row.split("\t")
    assert (name, scopes, expires, last_used, revoked, state) == (
        "oa-12345", "reports:read,tickets:read", "2100-01-01 00:00", "-", "-", "active")
    assert token.startswith(prefix.rstrip("…")) and token not in listed.output

    with db.session_scope(db.get_engine()) as session:
        assert tokens.authenticate(session, token).name == "oa-12345"
    listed = CliRunner().invoke(app, ["list"])
    assert listed.stdout.splitlines()[1].split("\t")[5] != "-"  # its last use


def test_revoke_then_the_token_is_refused_and_listed_as_revoked(home):
    token = add("oa", "--scope", "kb:write").stdout.strip()
    revoked = CliRunner().invoke(app, ["revoke", "oa"])
    assert revoked.exit_code == 0 and "revoked oa" in revoked.output
    with pytest.raises(tokens.TokenRefused), db.session_scope(db.get_engine()) as session:
        tokens.authenticate(session, token)
    row = CliRunner().invoke(app, ["list"]).stdout.splitlines()[1].split("\t")
    assert row[6] != "-" and row[7] == "revoked"


def test_the_default_expiry_is_a_year(home):
    add("oa", "--scope", "kb:write")
    with db.session_scope(db.get_engine()) as session:
        row = tokens.find_token(session, "oa")
        assert 364 <= (row.expires_at - row.created_at).days <= 365


@pytest.mark.parametrize("args, message", [
    (["oa", "--scope", "tickets:write"], "unknown scope"),
    (["oa", "--scope", "kb:write", "--expires", "2020-01-01"], "already past"),
    (["oa", "--scope", "kb:write", "--expires", "soon"], "--expires takes"),
    (["o a", "--scope", "kb:write"], "token name"),
])
def test_bad_requests_are_refused_without_a_traceback(home, args, message):
    refused = add(*args)
    assert refused.exit_code == 2 and message in refused.stderr
    assert "Traceback" not in refused.output and refused.stdout == ""


def test_a_taken_name_and_an_unknown_revoke_are_refused(home):
    assert add("oa", "--scope", "kb:write").exit_code == 0
    again = add("oa", "--scope", "kb:write")
    assert again.exit_code == 2 and "taken" in again.stderr and again.stdout == ""
    unknown = CliRunner().invoke(app, ["revoke", "nobody"])
    assert unknown.exit_code == 2 and "no token" in unknown.stderr
