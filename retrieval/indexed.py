"""An entry as the index holds it: the texts it is embedded and searched by, prepared once."""
from __future__ import annotations

from dataclasses import dataclass

from knowledge_base.schema import EntryData
from retrieval.fusion import Candidate
from retrieval.normalize import normalize
from retrieval.tokenize import search_tokens, words
from retrieval.types import Hit


@dataclass(frozen=True)
class IndexedEntry:
    """An entry as the index holds it. Its BM25 tokens and word set are computed once here:
    tokenising every entry again on each edit cost ~1.2 s at 174 entries (jieba), most of an
    edit's way to the chat."""

    data: EntryData
    text_q: str  # the entry's question, normalised and lower-cased: for key-term checks
    text_all: str  # question and answer (never the similar questions: see decision.py)
    tokens: tuple[str, ...] = ()  # BM25 tokens (see bm25_tokens)
    word_set: frozenset[str] = frozenset()  # the words of text_all, for the IDF table

    @classmethod
    def of(cls, data: EntryData) -> IndexedEntry:
        text_q = normalize(data.question).lower()
        text_all = normalize(" ".join([data.question, data.answer])).lower()
        tokens = search_tokens(" ".join([data.question, *data.similar_questions, *data.tags,
                                         data.answer, data.source, data.category]))
        return cls(data, text_q, text_all, tuple(tokens), frozenset(words(text_all)))

    def embed_texts(self) -> list[str]:
        """Question and similar questions, embedded as e5 queries (question-to-question)."""
        return [normalize(t) for t in [self.data.question, *self.data.similar_questions]]

    def passage_text(self) -> str:
        """Question and answer, embedded as one e5 passage (question-to-answer). Without the
        similar questions: its cosine is a decision feature, and must mean the same for an
        entry with none."""
        d = self.data
        return normalize(" ".join([d.question, d.answer]))

    def bm25_tokens(self) -> list[str]:
        return list(self.tokens)


def hit_of(c: Candidate, data: EntryData) -> Hit:
    """A ranked entry as a search returns it."""
    return Hit(id=data.id, score=round(c.fused, 4), question=data.question, answer=data.answer,
               category=data.category, department=data.department, source=data.source,
               source_url=data.source_url,
               effective_from=data.effective_from.isoformat() if data.effective_from else None,
               expires_on=data.expires_on.isoformat() if data.expires_on else None,
               dense=round(c.dense, 4), sparse=round(c.sparse, 4), long_term=data.long_term,
               reviewed_on=data.reviewed_on.isoformat() if data.reviewed_on else None,
               reviewed_by=data.reviewed_by, policy_ids=tuple(data.policy_ids))
