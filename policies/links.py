"""Knowledge-base answers about a policy the store holds (issue 23): which items an entry's
text names, and which of the items it links are published.

An entry names policy ids (``knowledge_base.schema.EntryData.policy_ids``); the workbench
suggests links by document number: an item whose 文号 (``document.doc_no``, e.g. "财政部
税务总局公告2023年第12号") or whose own title or document title appears in the entry's answer or
source. The match ignores spaces and the kinds of brackets a 文号 is written with (〔〕, [],
【】, ()), so "工信部联企业[2011]300号" finds "工信部联企业〔2011〕300号". Everything but
:func:`link_targets` is a pure function of its arguments.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.models import PolicyItem

MIN_TITLE_CHARS = 6  # a shorter title ("稳岗返还") is too common a phrase to suggest a link by
_BRACKETS = str.maketrans({"〔": "[", "〕": "]", "［": "[", "］": "]", "【": "[", "】": "]",
                           "（": "(", "）": ")"})
_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    text = _SPACE.sub("", (text or "").translate(_BRACKETS))
    return text.replace("[", "(").replace("]", ")")


def suggest_links(texts: Iterable[str], items: Iterable[dict],
                  linked: Iterable[str] = ()) -> list[dict]:
    """The items (dicts as the store keeps them) named in ``texts`` and not yet ``linked``:
    ``[{"id", "title", "doc_no", "status", "matched": "doc_no" | "title"}]``, by id. A 文号
    is the stronger evidence and wins when both match."""
    haystack = _normal("\n".join(t for t in texts if t))
    skip = set(linked)
    out = []
    for item in sorted(items, key=lambda i: str(i.get("id", ""))):
        if not haystack or item.get("id") in skip:
            continue
        document = item.get("document") or {}
        doc_no = str(document.get("doc_no") or "")
        titles = [str(t) for t in (item.get("title"), document.get("title")) if t]
        matched = ""
        if doc_no and _normal(doc_no) in haystack:
            matched = "doc_no"
        elif any(len(_normal(t)) >= MIN_TITLE_CHARS and _normal(t) in haystack for t in titles):
            matched = "title"
        if matched:
            out.append({"id": item["id"], "title": item.get("title", ""), "doc_no": doc_no,
                        "status": item.get("status", ""), "matched": matched})
    return out


def unknown_ids(policy_ids: Iterable[str], known: Iterable[str]) -> list[str]:
    """The ids not in the store, in the order given."""
    have = set(known)
    return [i for i in policy_ids if i not in have]


def published_links(policy_ids: Iterable[str], items: Iterable[dict]) -> list[dict]:
    """``[{"id", "title"}]`` of the linked ids that are published, in the entry's order: what
    the answer card offers 看看我是否符合 for (a draft or archived item is not offered)."""
    by_id = {i.get("id"): i for i in items if i.get("status", "published") == "published"}
    return [{"id": i, "title": by_id[i].get("title", "")} for i in dict.fromkeys(policy_ids)
            if i in by_id]


def restrict(items: list, policy_ids: Iterable[str] | None) -> list:
    """The (policy, data) pairs of a check whose id is among ``policy_ids``; all of them when
    none are named (the check-up for one policy alone asks only its questions)."""
    if not policy_ids:
        return list(items)
    wanted = set(policy_ids)
    return [pair for pair in items if pair[0].id in wanted]


def link_targets(session: Session) -> list[dict]:
    """Every item of the store as a link target: id, status, title and document."""
    return [{**dict(data or {}), "id": item_id, "status": status}
            for item_id, status, data in session.execute(
                select(PolicyItem.id, PolicyItem.status, PolicyItem.data)
                .order_by(PolicyItem.id))]
