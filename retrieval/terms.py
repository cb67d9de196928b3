"""The colloquial → official term map: 饭馆 → 餐饮, 执照 → 营业执照, 老板 → 法定代表人.

A user who writes 小饭馆 finds no entry about 餐饮 by words: BM25 scored zero and the
coverage features said "none of the query's words are in this entry". The map, a data file
(``retrieval/data/term_map.tsv``, one ``colloquial<TAB>official|official…`` a line), adds the
official terms to what BM25 and the coverage features see; it never replaces what the user
wrote, and the embedding model still reads the query as typed.

Keys are found on word boundaries: the query is cut by a jieba tokenizer that knows every key
as a word (longest match wins), so 开公司 matches in 我想开公司 but not inside 离开公司.
The file is watched (its size and modification time, checked at most once a second) and its
reload is announced to every gateway, like a knowledge-base change (``retrieval.sync``).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import jieba

from retrieval.normalize import normalize
from retrieval.tokenize import _tokenizer
from xiaobao.errors import XiaobaoError

log = logging.getLogger(__name__)
DEFAULT_PATH = Path(__file__).parent / "data" / "term_map.tsv"
TERMS_CHANNEL = "xiaobao:terms:changed"


class TermMapError(XiaobaoError, ValueError):
    """A malformed term map; the message names every bad line (Chinese / English)."""

    status = 422
    code = "invalid_term_map"

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _clean(text: str) -> str:
    return normalize(text).lower()


@dataclass(frozen=True)
class TermMap:
    """``{colloquial: (official, …)}`` and the fingerprint of the file it came from."""

    pairs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fingerprint: str = "none"
    _tokenizer: jieba.Tokenizer | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, name: str = "term_map.tsv") -> TermMap:
        pairs: dict[str, tuple[str, ...]] = {}
        errors = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            key = _clean(parts[0]) if parts else ""
            officials = tuple(dict.fromkeys(
                _clean(t) for t in (parts[1] if len(parts) > 1 else "").split("|") if t.strip()))
            if len(parts) != 2 or not key or not officials:
                errors.append(f"{name} 第{n}行应为“口语<TAB>规范用语” / line {n}: expected "
                              "colloquial<TAB>official[|official…]")
            elif key in officials:
                errors.append(f"{name} 第{n}行把“{key}”映射到自身 / line {n} maps a word to itself")
            elif key in pairs and pairs[key] != officials:
                errors.append(f"{name} 第{n}行重复定义“{key}” / line {n} redefines {key!r}")
            else:
                pairs[key] = officials
        if errors:
            raise TermMapError("\n".join(errors))
        digest = hashlib.sha256(repr(sorted(pairs.items())).encode()).hexdigest()[:16]
        return cls(pairs, digest, _tokenizer_for(pairs))

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> TermMap:
        """The map in ``path``; a missing file is an empty map (the feature is off)."""
        if not path.exists():
            log.warning("no term map at %s: colloquial words are not mapped", path)
            return cls()
        return cls.parse(path.read_text("utf-8"), path.name)

    def __len__(self) -> int:
        return len(self.pairs)

    def matches(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """The colloquial words of ``text`` that the map knows, with their official terms."""
        if not self.pairs or self._tokenizer is None:
            return []
        found = []
        for token in self._tokenizer.cut(_clean(text), HMM=False):
            if token in self.pairs:
                found.append((token, self.pairs[token]))
        return found

    def official_terms(self, text: str) -> list[str]:
        """Every official term the colloquial words of ``text`` map to (no repeats)."""
        return list(dict.fromkeys(t for _, terms in self.matches(text) for t in terms))

    def rewrite(self, text: str) -> str:
        """``text`` with each colloquial word followed by its official terms (for coverage)."""
        matches = self.matches(text)
        if not matches:
            return text
        return text + " " + " ".join(t for _, terms in matches for t in terms)


def _tokenizer_for(pairs: dict[str, tuple[str, ...]]) -> jieba.Tokenizer | None:
    if not pairs:
        return None
    # A copy of the search tokenizer's dictionary (domain words included): building one
    # from jieba's files took ~2 s, too slow for a reload that should land within a second.
    base = _tokenizer()
    tok = jieba.Tokenizer()
    tok.FREQ, tok.total, tok.initialized = dict(base.FREQ), base.total, True
    for key in pairs:
        # A frequency above any ordinary word's: the key is cut whole where it occurs, and
        # the longest key wins where keys overlap (jieba maximises the path's probability).
        tok.add_word(key, freq=10_000 * len(key))
    return tok


def file_state(path: Path) -> tuple[int, int]:
    """What tells a changed file: (size, modification time in ns); (-1, -1) when absent."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def found_in(word: str, text: str, alternatives: dict[str, tuple[str, ...]]) -> bool:
    """A query word is in ``text``, itself or as one of its official terms (``alternatives``:
    word → the official terms of the colloquial word it is part of)."""
    return word in text or any(t in text for t in alternatives.get(word, ()))
