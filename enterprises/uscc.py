"""统一社会信用代码 (unified social credit code, GB 32100-2015): 18 characters from a 31-letter
alphabet (the digits and the capitals without I, O, S, V, Z), the last a check character over
the first 17. A code that fails the check is a typing error, never an enterprise."""
from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015 表 2: the value is the index
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^(i) mod 31
LENGTH = 18
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def normalise_uscc(code: object) -> str:
    """As people type it: full-width letters and digits folded, spaces stripped, upper case."""
    return "".join(unicodedata.normalize("NFKC", str(code or "")).split()).upper()


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (ValueError on a character outside the alphabet)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` (normalised) is not a valid USCC, in Chinese then English; None if it is."""
    if len(code) != LENGTH:
        return (f"统一社会信用代码应为18位，实为{len(code)}位 / a USCC has 18 characters, "
                f"not {len(code)}")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        shown = "".join(bad)[:10]
        return (f"统一社会信用代码含不允许的字符“{shown}”（不使用 I、O、S、V、Z）/ "
                f"characters not allowed in a USCC: {shown}")
    if check_character(code[:17]) != code[17]:
        return "统一社会信用代码校验位不符 / the USCC's check character is wrong"
    return None


def valid_uscc(code: object) -> bool:
    return uscc_problem(normalise_uscc(code)) is None
