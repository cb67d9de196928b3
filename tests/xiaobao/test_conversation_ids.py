"""The conversation id is derived from the visitor's cookie secret, never equal to it."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import pytest

from xiaobao.conversations import conversation_id_for

KEY = "k" * 32


def test_the_derivation_is_deterministic_and_has_one_shape():
    secret = secrets.token_urlsafe(16)
    first = conversation_id_for(secret, KEY)
    assert first == conversation_id_for(secret, KEY)  # a returning browser finds its record
    assert re.fullmatch(r"v-[0-9a-f]{32}", first)
    assert len(first) <= 96  # fits every conversation_id column


def test_it_is_hmac_sha256_of_the_secret_keyed_with_the_servers_key():
    secret = "abcdefghijklmnopqrstuv"
    expected = hmac.new(KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()[:32]
    assert conversation_id_for(secret, KEY) == "v-" + expected
    # keyed: a plain hash of the secret (computable by anyone) is not the id
    assert conversation_id_for(secret, KEY)[2:] != hashlib.sha256(secret.encode()).hexdigest()[:32]


def test_different_keys_and_different_secrets_give_different_ids():
    secret = secrets.token_urlsafe(16)
    ids = {conversation_id_for(secret, f"key-{n}") for n in range(50)}
    assert len(ids) == 50
    ids = {conversation_id_for(secrets.token_urlsafe(16), KEY) for _ in range(1000)}
    assert len(ids) == 1000


def test_the_id_does_not_show_the_secret():
    for _ in range(200):
        secret = secrets.token_urlsafe(16)
        cid = conversation_id_for(secret, KEY)
        assert secret not in cid and cid[2:] not in secret
        # no common run of 6 characters: nothing of the secret leaks through
        assert not any(secret[i:i + 6] in cid for i in range(len(secret) - 5))
        # and the derived id is not itself a valid cookie value that leads back to it
        assert conversation_id_for(cid, KEY) != cid


def test_an_empty_secret_is_a_bug():
    with pytest.raises(ValueError):
        conversation_id_for("", KEY)
