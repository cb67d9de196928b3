"""Chinese tokenisation for BM25 and key-term checks: jieba with the domain dictionary.

The dictionary files ``retrieval/data/domain_dict*.txt`` are shared with Rasa's
JiebaTokenizer, so the bot and retrieval cut 营业执照 or 统一社会信用代码 the same way.
A private ``jieba.Tokenizer`` keeps our words out of jieba's global state.
"""
from __future__ import annotations

import hashlib
import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

from retrieval.normalize import normalize

DATA_DIR = Path(__file__).parent / "data"
jieba.setLogLevel(logging.WARNING)


def dictionary_files() -> list[Path]:
    return sorted(DATA_DIR.glob("domain_dict*.txt"))


def dictionary_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in dictionary_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    tok = jieba.Tokenizer()
    tok.initialize()
    for path in dictionary_files():
        tok.load_userdict(str(path))
    return tok


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset((DATA_DIR / "stopwords.txt").read_text("utf-8").split())


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def words(text: str) -> list[str]:
    """Content words of a text (normalised, lower-cased, no punctuation or stopwords)."""
    stop = stopwords()
    return [t for t in (w.strip().lower() for w in _tokenizer().cut(normalize(text)))
            if t and _is_word(t) and t not in stop]


def search_tokens(text: str) -> list[str]:
    """Tokens for BM25: jieba's search mode adds the parts of long words (营业执照 → 营业, 执照)."""
    stop = stopwords()
    return [t for t in (w.strip().lower() for w in _tokenizer().cut_for_search(normalize(text)))
            if t and _is_word(t) and t not in stop]
