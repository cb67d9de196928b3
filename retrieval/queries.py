"""Checking what a user asks before it is searched: not empty, not too long, some text."""
from __future__ import annotations

from retrieval.normalize import has_searchable_text, normalize
from retrieval.types import QueryError


def validate_query(query: str, max_chars: int) -> str:
    """The normalised query, or a QueryError the user can act on."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("empty_query", "请输入您要咨询的问题 / please type a question")
    if len(query) > max_chars:
        raise QueryError("query_too_long",
                         f"问题过长（{len(query)} 字），请精简到 {max_chars} 字以内 / "
                         f"question too long ({len(query)} > {max_chars} characters)")
    text = normalize(query)
    if not has_searchable_text(text):
        raise QueryError("no_text", "没有识别到文字内容，请用文字描述您的问题 / "
                                    "no text to search in the query")
    return text


def validate_queries(queries: list[str], max_chars: int) -> list[str | QueryError]:
    """Each query normalised, or the QueryError that says what is wrong with it."""
    out: list[str | QueryError] = []
    for q in queries:
        try:
            out.append(validate_query(q, max_chars))
        except QueryError as exc:
            out.append(exc)
    return out
