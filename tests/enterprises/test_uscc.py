"""The 统一社会信用代码 check (GB 32100-2015): length, alphabet, check character."""
from __future__ import annotations

import pytest

from enterprises.uscc import ALPHABET, check_character, normalise_uscc, uscc_problem, valid_uscc
from tests.enterprises.conftest import code

# Published examples of the format, checked by hand with the standard's weights.
VALID = ["91350100M000100Y43", "913101136000123471", "92310113600804248N", code(7),
         code(123456789), code(42, "11")]


@pytest.mark.parametrize("uscc", VALID)
def test_valid_codes(uscc):
    assert valid_uscc(uscc)
    assert uscc_problem(uscc) is None


def test_every_other_check_character_is_refused():
    first17 = "91350100M000100Y4"
    assert check_character(first17) == "3"
    wrong = [c for c in ALPHABET if c != "3"]
    assert len(wrong) == 30
    assert not any(valid_uscc(first17 + c) for c in wrong)
    assert "校验位" in uscc_problem(first17 + "4")


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_letters_outside_the_alphabet(letter):
    bad = "91350100M000100Y4" + letter
    assert not valid_uscc(bad)
    assert "不允许的字符" in uscc_problem(bad) and letter in uscc_problem(bad)


@pytest.mark.parametrize("bad,why", [
    ("", "0位"), ("91350100M000100Y4", "17位"), ("91350100M000100Y433", "19位"),
    ("9135010OM000100Y43", "字符"), ("91350100-000100Y43", "字符")])
def test_length_and_characters(bad, why):
    assert not valid_uscc(bad)
    assert why in uscc_problem(normalise_uscc(bad))


def test_normalise_strips_folds_and_upper_cases():
    assert normalise_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert normalise_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"
    assert normalise_uscc("9135 0100 M000 100Y43") == "91350100M000100Y43"
    assert valid_uscc("91350100m000100y43")
    assert normalise_uscc(None) == ""
