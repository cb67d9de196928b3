"""A helper's proposal becomes knowledge only through an editor: accepted or rejected, recorded."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from knowledge_base import drafts, store
from knowledge_base.schema import EntryData
from knowledge_base.service import KnowledgeBaseService
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind


@pytest.fixture
def kb(engine):
    announced: list[list[str]] = []
    service = KnowledgeBaseService(engine, announced.append)
    service.announced = announced  # type: ignore[attr-defined]
    service.import_entries([EntryData(
        id="kb-1", question="营业执照怎么补办？", answer="旧的答案。", category="企业开办与变更",
        source="《市场主体登记管理条例》", similar_questions=["执照丢了怎么办"])], "seed")
    return service


def propose(kb, question: str, answer: str, replaces: str = "") -> str:
    tags = ["helper_proposal", "ticket:t-1"] + ([f"replaces:{replaces}"] if replaces else [])
    draft_id = "draft-" + str(len(kb.pending_drafts()) + 1)
    kb.save(EntryData(id=draft_id, question=question, answer=answer, tags=tags,
                      source="帮办人员ann提议（工单t-1）", status="draft"), "ann", action="propose")
    return draft_id


def events(engine, kind):
    with session_scope(engine) as s:
        return [e.data for e in s.scalars(select(Event).where(Event.kind == kind))]


def test_accepting_an_amendment_makes_a_new_version_of_that_entry(kb, engine):
    draft_id = propose(kb, "营业执照遗失了去哪补", "新的答案。", replaces="kb-1")
    assert [d.id for d in kb.pending_drafts()] == [draft_id]
    entry = kb.accept_draft(draft_id, "edna")
    assert entry.id == "kb-1" and entry.version == 2 and entry.answer == "新的答案。"
    assert entry.status == "published" and entry.reviewed_by == "edna" and entry.reviewed_on
    assert "营业执照遗失了去哪补" in entry.similar_questions  # the user's wording kept
    assert entry.source == "《市场主体登记管理条例》"  # the entry's own source, not the proposal's
    draft = kb.get(draft_id)
    assert draft.status == "archived" and "accepted:kb-1" in draft.tags
    assert kb.pending_drafts() == []
    assert kb.announced[-1] == ["kb-1", draft_id]
    assert events(engine, EventKind.KB_DRAFT_ACCEPTED) == [
        {"entry_id": draft_id, "target_id": "kb-1", "outcome": "updated"}]
    with pytest.raises(drafts.DraftNotPending):
        kb.accept_draft(draft_id, "edna")


def test_accepting_a_new_proposal_publishes_it_under_a_new_id(kb):
    draft_id = propose(kb, "周末能办营业执照吗", "周六上午开放。")
    entry = kb.accept_draft(draft_id, "edna", edits={"answer": "周六上午9:00-12:00开放。",
                                                      "status": "draft", "id": "evil"})
    assert entry.id.startswith("kb-") and entry.id not in (draft_id, "evil")
    assert entry.status == "published" and entry.answer == "周六上午9:00-12:00开放。"
    assert entry.source == "" and entry.tags == []  # proposal bookkeeping stays on the draft
    with session_scope(kb.engine) as s:
        audit = store.audit_log(s, entry.id)
    assert audit[0].actor == "edna" and draft_id in audit[0].detail


def test_rejecting_needs_a_reason_and_keeps_the_entry(kb, engine):
    draft_id = propose(kb, "营业执照怎么补办", "乱写的答案。", replaces="kb-1")
    with pytest.raises(store.KnowledgeBaseError):
        kb.reject_draft(draft_id, "edna", "  ")
    draft = kb.reject_draft(draft_id, "edna", "与现行规定不符")
    assert draft.status == "archived" and "rejected" in draft.tags
    assert kb.get("kb-1").answer == "旧的答案。"
    assert kb.audit(draft_id)[0].detail == "与现行规定不符"
    assert events(engine, EventKind.KB_DRAFT_REJECTED)[0]["reason"] == "与现行规定不符"


def test_only_helper_proposals_are_drafts_to_decide(kb):
    kb.create({"id": "kb-mine", "question": "编辑自己的草稿", "answer": "答"}, "edna")
    assert kb.pending_drafts() == []
    with pytest.raises(store.EntryNotFound):
        kb.accept_draft("kb-mine", "edna")
