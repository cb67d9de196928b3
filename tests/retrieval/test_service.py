"""The retriever end to end on the real model and FAISS, with a small knowledge base."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import redis

from knowledge_base import store
from knowledge_base.changes import redis_announcer
from knowledge_base.schema import EntryData
from knowledge_base.service import KnowledgeBaseService
from retrieval.service import Retriever
from retrieval.sync import start_listener
from retrieval.types import QueryError
from xiaobao.db import make_engine, session_scope, upgrade

ENTRIES = [
    dict(id="kb-licence", question="如何申请营业执照？",
         similar_questions=["新开公司怎么办理营业执照", "个体户执照在哪里申领"],
         answer="可在一网通办“企业开办”专栏在线申请营业执照。", category="企业开办与变更",
         department="区市场监管局", source="上海市企业开办指南"),
    dict(id="kb-invoice", question="新办企业如何申领发票？",
         similar_questions=["公司第一次开票要办什么", "数电发票怎么开通"],
         answer="新办纳税人可在电子税务局办理新办纳税人套餐，开通数电发票。", category="税务发票",
         department="区税务局", source="上海市税务局办税指南"),
    dict(id="kb-fund", question="单位如何办理住房公积金缴存登记？",
         similar_questions=["公司怎么给员工开公积金账户", "企业公积金开户流程"],
         answer="单位可通过一网通办办理住房公积金单位缴存登记。", category="住房公积金",
         department="公积金管理中心", source="上海市住房公积金办事指南"),
    dict(id="kb-hotline", question="12345热线能办理哪些企业诉求？",
         similar_questions=["企业遇到问题可以打12345吗", "12345市民服务热线受理范围"],
         answer="12345热线受理企业咨询、投诉、求助和建议。", category="12345与好差评",
         department="区12345热线办", source="上海12345市民服务热线说明"),
]


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, 0
        self.dim, self.model_dir = inner.dim, inner.model_dir

    def encode_queries(self, texts):
        self.texts += len(texts)
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts):
        self.texts += len(texts)
        return self.inner.encode_passages(texts)


@pytest.fixture
def kb(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        store.save_entries(s, [EntryData.model_validate(e) for e in ENTRIES], "test")
    return engine


@pytest.fixture
def retriever(kb, embedder, tmp_path):
    r = Retriever(kb, CountingEmbedder(embedder), tmp_path / "index")
    assert r.load_or_build() == "built"
    return r


def test_paraphrase_finds_its_entry_with_source(retriever):
    result = retriever.search("开个小公司要去哪里领执照")
    assert result.top.id == "kb-licence"
    assert result.top.source == "上海市企业开办指南"
    assert 0 < result.top.dense <= 1


def test_large_bases_get_an_approximate_index_that_still_answers(kb, embedder, tmp_path):
    r = Retriever(kb, embedder, tmp_path / "ivf", approximate_above=4)
    r.build()
    assert r.dense.kind == "ivf"
    assert r.search("开个小公司要去哪里领执照").top.id == "kb-licence"
    assert r.load_or_build() == "loaded" and r.dense.kind == "ivf"
    assert r.search("企业公积金户头怎么开").top.id == "kb-fund"


def test_exact_term_from_bm25(retriever):
    assert retriever.search("打12345").top.id == "kb-hotline"


def _edit(engine, entry_id, actor="editor", **changes):
    with session_scope(engine) as s:
        data = store.entry_data(store.get_entry(s, entry_id)).model_copy(update=changes)
        store.save_entry(s, data, actor)


def test_publish_edit_archive_take_effect_within_a_second_without_reembedding(retriever, kb):
    before = retriever.embedder.texts
    new = EntryData.model_validate(dict(
        id="kb-seal", question="企业如何申领电子印章？", similar_questions=["公司电子章怎么弄"],
        answer="可通过一网通办申领电子印章。", category="电子证照与印章", source="电子印章指南"))
    with session_scope(kb) as s:
        store.save_entry(s, new, "editor")
    t0 = time.perf_counter()
    retriever.refresh(["kb-seal"])
    assert retriever.search("公司的电子公章在哪申请").top.id == "kb-seal"
    assert time.perf_counter() - t0 < 1.0
    # The new entry's question, similar question and passage, and the query: nothing else.
    assert retriever.embedder.texts - before == 3 + 1

    _edit(kb, "kb-seal", answer="更新后的答案：在随申办企业云申领。")
    retriever.refresh(["kb-seal"])
    assert retriever.search("公司的电子公章在哪申请").top.answer.startswith("更新后的答案")

    with session_scope(kb) as s:
        store.set_status(s, "kb-seal", "archived", "editor")
    t0 = time.perf_counter()
    retriever.refresh(["kb-seal"])
    hits = retriever.search("公司的电子公章在哪申请").hits
    assert time.perf_counter() - t0 < 1.0
    assert "kb-seal" not in [h.id for h in hits]
    assert retriever.get_entry("kb-seal") is None


def test_expired_and_not_yet_effective_entries_are_never_answered(retriever, kb):
    _edit(kb, "kb-invoice", expires_on=dt.date(2026, 1, 1))
    retriever.refresh(["kb-invoice"])
    q = "公司第一次开发票需要办啥"
    assert retriever.search(q, today=dt.date(2025, 12, 31)).top.id == "kb-invoice"
    assert "kb-invoice" not in [h.id for h in retriever.search(q, today=dt.date(2026, 1, 2)).hits]


def test_saved_index_loads_when_fingerprint_matches_and_rebuilds_otherwise(retriever, kb, embedder,
                                                                           tmp_path):
    again = Retriever(kb, CountingEmbedder(embedder), tmp_path / "index")
    assert again.load_or_build() == "loaded"
    assert again.embedder.texts == 0
    assert again.search("企业公积金户头怎么开").top.id == "kb-fund"
    # Another format (or model, or dictionary): everything is embedded again.
    meta = tmp_path / "index" / "meta.json"
    saved = json.loads(meta.read_text("utf-8"))
    meta.write_text(json.dumps({**saved, "fingerprint": "0:" + saved["fingerprint"][2:]}))
    third = Retriever(kb, CountingEmbedder(embedder), tmp_path / "index")
    assert third.load_or_build() == "built"
    assert third.embedder.texts == 4 * 3 + 4  # every question and similar question, every passage


def test_a_restart_after_edits_embeds_only_what_changed_meanwhile(retriever, kb, embedder,
                                                                   tmp_path):
    """A gateway restarted after edits made elsewhere (it heard no announcement) loads its saved
    index and embeds just those entries: rebuilding the whole base kept a SIGKILLed gateway in
    its start-up for minutes on a busy machine (the soak of issue 21)."""
    _edit(kb, "kb-fund", answer="单位可在随申办企业云办理住房公积金缴存登记。")
    with session_scope(kb) as s:
        store.set_status(s, "kb-hotline", "archived", "editor")
        store.save_entry(s, EntryData.model_validate(dict(
            id="kb-seal", question="企业如何申领电子印章？", similar_questions=["公司电子章怎么弄"],
            answer="可通过一网通办申领电子印章。", category="电子证照与印章",
            source="电子印章指南")), "editor")
    again = Retriever(kb, CountingEmbedder(embedder), tmp_path / "index")
    assert again.load_or_build() == "caught up"
    assert again.embedder.texts == (3 + 1) + (2 + 1)  # kb-fund's and kb-seal's texts, no more
    assert again.search("企业公积金户头怎么开").top.answer.startswith("单位可在随申办企业云")
    assert again.search("公司的电子公章在哪申请").top.id == "kb-seal"
    assert again.get_entry("kb-hotline") is None
    assert "kb-hotline" not in [h.id for h in again.search("12345热线能办理哪些企业诉求").hits]
    assert again.stale() == [] and again.size == 4
    # What it saved is current: the next start embeds nothing.
    fourth = Retriever(kb, CountingEmbedder(embedder), tmp_path / "index")
    assert fourth.load_or_build() == "loaded" and fourth.embedder.texts == 0


@pytest.mark.parametrize("query,code", [
    ("", "empty_query"), ("   \n\t", "empty_query"), ("😀😀😀", "no_text"), ("？？！", "no_text"),
    ("问" * 2001, "query_too_long"),
])
def test_bad_queries_are_refused_with_a_reason(retriever, query, code):
    with pytest.raises(QueryError) as exc:
        retriever.search(query)
    assert exc.value.code == code
    assert "/" in exc.value.message  # Chinese / English


def test_odd_but_valid_queries(retriever):
    assert retriever.search("問" * 2000).decision in ("answer", "suggest", "abstain")
    assert retriever.search("營業執照怎麼申請😀\x07").top.id == "kb-licence"
    assert retriever.search("ＡＢＣ公司 invoice 发票 怎么领").top.id == "kb-invoice"


def test_batch_search_keeps_order_and_reports_bad_lines(retriever):
    out = retriever.search_many(["企业公积金户头怎么开", "", "办执照"])
    assert out[0].top.id == "kb-fund"
    assert isinstance(out[1], QueryError)
    assert out[2].top.id == "kb-licence"


def test_other_gateways_hear_of_changes_over_redis(retriever, kb, embedder, tmp_path):
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    other = Retriever(kb, embedder, tmp_path / "index2")
    other.load_or_build()
    stop = start_listener(other, client)
    try:
        time.sleep(0.3)  # let the listener subscribe
        t0 = time.perf_counter()
        KnowledgeBaseService(kb, redis_announcer(client)).archive("kb-hotline", "editor")
        while other.get_entry("kb-hotline") is not None and time.perf_counter() - t0 < 5:
            time.sleep(0.02)
        assert other.get_entry("kb-hotline") is None
        assert time.perf_counter() - t0 < 1.0
    finally:
        stop.set()


def test_a_listener_catches_up_on_changes_nobody_announced(retriever, kb, embedder, tmp_path):
    """A change committed while the listener was not subscribed (its gateway starting, Redis
    failing over) is read from the database when it subscribes."""
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    other = Retriever(kb, embedder, tmp_path / "index3")
    other.load_or_build()
    _edit(kb, "kb-invoice", answer="未宣布的修改：在电子税务局开通数电发票。")  # no announcement
    stop = start_listener(other, client)
    try:
        t0 = time.perf_counter()
        while other.stale() and time.perf_counter() - t0 < 5:
            time.sleep(0.05)
        assert other.search("公司第一次开票要办什么").top.answer.startswith("未宣布的修改")
    finally:
        stop.set()


def test_term_map_lets_a_colloquial_word_find_its_entry_and_reloads_when_changed(
        kb, embedder, tmp_path):
    """BM25 sees 营业执照 for 营业直照 once the map says so; an edited file is picked up within a
    second, by file watch, without a rebuild."""
    terms = tmp_path / "terms.tsv"
    terms.write_text("# test map\n公积金\t住房公积金\n", "utf-8")
    r = Retriever(kb, embedder, None, term_map_path=terms)
    r.build()
    before = set(r.query_tokens("营业直照补办"))
    assert "营业执照" not in before
    terms.write_text("公积金\t住房公积金\n营业直照\t营业执照\n", "utf-8")
    time.sleep(1.1)  # the file is looked at once a second at most
    r.search("营业直照补办")  # the search notices the change
    assert len(r.terms) == 2
    assert "营业执照" in r.query_tokens("营业直照补办")
    result = r.search("营业直照补办")
    assert result.top.id == "kb-licence"
    # A broken file is refused and the map in use is kept.
    terms.write_text("坏行没有制表符\n", "utf-8")
    assert r.reload_terms() is False and len(r.terms) == 2


def test_term_map_reload_is_announced_to_other_gateways(kb, embedder, tmp_path, r):
    from retrieval.terms import TERMS_CHANNEL

    terms = tmp_path / "terms.tsv"
    terms.write_text("公积金\t住房公积金\n", "utf-8")
    other = Retriever(kb, embedder, None, term_map_path=terms)
    other.build()
    stop = start_listener(other, r)
    try:
        time.sleep(0.3)
        terms.write_text("公积金\t住房公积金\n老板\t法定代表人\n", "utf-8")
        other._terms_checked = time.monotonic() + 3600  # no file watch: only the message
        r.publish(TERMS_CHANNEL, "new")
        t0 = time.perf_counter()
        while len(other.terms) != 2 and time.perf_counter() - t0 < 5:
            time.sleep(0.02)
        assert len(other.terms) == 2
        assert time.perf_counter() - t0 < 1.0
    finally:
        stop.set()
