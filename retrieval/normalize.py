"""Text normalisation shared by retrieval and the chat gateway.

Traditional → simplified (OpenCC), full-width → half-width (NFKC keeps CJK
intact while folding ｆｕｌｌ-width letters, digits and spaces), collapsed
whitespace, control characters and emoji removed. Chinese punctuation is kept
as ASCII equivalents so jieba and the embedding model see one form.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_WS = re.compile(r"\s+")
# Emoji, pictographs, variation selectors and joiners: nothing to search in them.
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF"
    "\U0000FE00-\U0000FE0F\U0000200D\U000020E3\U0001F1E6-\U0001F1FF]"
)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def strip_controls(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")


def normalize(text: str) -> str:
    """The canonical form of a user's or an entry's text."""
    text = unicodedata.normalize("NFKC", text)
    text = strip_controls(text)
    text = _EMOJI.sub(" ", text)
    text = _t2s().convert(text)
    return _WS.sub(" ", text).strip()


def has_searchable_text(text: str) -> bool:
    """True when something other than punctuation and symbols is left."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
