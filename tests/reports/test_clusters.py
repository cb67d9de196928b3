"""工单聚类分析 on the real model: tickets made by the handoff package, 差评 opened by rating
them (:mod:`ratings.record`) and reviewed (:mod:`ratings.cases`), read back for a
window and grouped with the knowledge gaps' clustering — on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest

from handoff.config import packaged_config
from handoff.context import HandoffContext
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import Ticket
from ratings import cases
from ratings.cases import BadRatingCase
from ratings.record import record_rating
from reports.clusters import BAD_RATING, TICKET, ClusterItem, cluster, collect
from retrieval.embedder import get_embedder
from xiaobao.clock import utcnow
from xiaobao.db import session_scope

CONFIG = packaged_config()
PERMITS = "区市场监管局"
DATA = "区大数据中心"
TAX = "区税务局"
CATEGORY = {department: category for category, department in CONFIG.routing.items()}
SUPERVISOR = SimpleNamespace(username="sam", roles=["supervisor"], departments=[])

DOG = ["宠物犬登记在哪里办", "养狗要办什么证", "狗证在哪里办"]
LICENCE = ["营业执照怎么办理", "办营业执照要什么材料"]
WAITING = ["等了很久没人回复", "排队太久一直没人回复", "等了半个小时没人回复"]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture
def ctx(engine, r) -> HandoffContext:
    return HandoffContext(engine=engine, redis=r, config=CONFIG)


def ticket(ctx: HandoffContext, topic: str, department: str, summary: str = "") -> str:
    """A ticket as the bot's handoff action makes it, routed to ``department``."""
    return request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=uuid.uuid4().hex, channel="online_helper",
        topic=topic, summary=summary or f"咨询：{topic}",
        candidates=[Candidate(id="kb-x", question=topic, category=CATEGORY[department],
                              score=0.3)]), ctx=ctx).ticket_id


def rate(ctx: HandoffContext, rating: str, reason: str = "", ticket_id: str = "",
         conversation_id: str = "") -> BadRatingCase | None:
    """A rating of the ticket (or of a bot conversation), as the rating action records it;
    the 差评 work order it opens, if any."""
    with session_scope(ctx.engine) as s:
        if ticket_id:
            t = s.get(Ticket, ticket_id)
            conversation_id, department = t.conversation_id, t.department
        else:
            department = ""
        event = record_rating(s, conversation_id or uuid.uuid4().hex, rating,
                              ticket_id=ticket_id, reason=reason, department=department)
        case = s.query(BadRatingCase).filter_by(rating_event_pk=event.pk).one_or_none()
        if case is not None:
            s.expunge(case)
        return case


def shift(ctx: HandoffContext, *, ticket_id: str = "", case_id: int = 0,
          by: dt.timedelta) -> None:
    """Move a ticket's creation or a 差评's opening in time (an older record)."""
    with session_scope(ctx.engine) as s:
        if ticket_id:
            t = s.get(Ticket, ticket_id)
            t.created_at = t.created_at + by
        else:
            case = s.get(BadRatingCase, case_id)
            case.opened_at = case.opened_at + by


def window() -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()
    return now - dt.timedelta(days=1), now + dt.timedelta(minutes=1)


def test_collect_reads_tickets_and_the_bad_ratings_that_still_count(ctx):
    with_topic = ticket(ctx, DOG[0], PERMITS)
    summary_only = ticket(ctx, "", DATA, summary="留言回电：随申办登录不了")
    ticket(ctx, "", DATA, summary=" ")  # nothing to read (or purged)
    old = ticket(ctx, DOG[1], PERMITS)
    shift(ctx, ticket_id=old, by=-dt.timedelta(days=3))
    rate(ctx, "满意", ticket_id=with_topic)  # not a 差评
    founded = rate(ctx, "不满意", "狗证在哪里办没人说清楚，请回电13812345678",
                   ticket_id=with_topic)
    unfounded = rate(ctx, "非常不满意", "帮办态度差", ticket_id=summary_only)
    with session_scope(ctx.engine) as s:
        cases.review(s, unfounded.id, SUPERVISOR, "不属实", "录音显示态度正常")
    rerated = ticket(ctx, "增值税发票怎么开", TAX)
    rate(ctx, "非常不满意", "发票问题没解决", ticket_id=rerated)
    rate(ctx, "基本满意", ticket_id=rerated)  # the later rating replaces the 差评
    bot = rate(ctx, "不满意", WAITING[0])  # the bot's own service: no department
    earlier = rate(ctx, "不满意", "上周的差评")
    shift(ctx, case_id=earlier.id, by=-dt.timedelta(days=3))

    items = collect(ctx.engine, *window())

    assert sorted((i.kind, i.text, i.department) for i in items) == sorted([
        (TICKET, DOG[0], PERMITS),
        (TICKET, "留言回电：随申办登录不了", DATA),
        (TICKET, "增值税发票怎么开", TAX),
        # phone numbers masked: the dashboard shows these texts to every supervisor
        (BAD_RATING, "狗证在哪里办没人说清楚，请回电138****5678", PERMITS),
        (BAD_RATING, WAITING[0], ""),
    ])
    assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)
    assert founded is not None and bot is not None
    # The oldest records fall outside a window that starts two days ago; a later one holds
    # them, and a limit keeps the newest.
    since = utcnow() - dt.timedelta(days=4)
    assert {i.text for i in collect(ctx.engine, since, window()[1])} >= {DOG[1], "上周的差评"}
    newest = collect(ctx.engine, *window(), limit=2)
    assert [i.at for i in newest] == [i.at for i in items[:2]]


def test_a_recurring_problem_is_one_row_with_its_count_examples_and_departments(
        ctx, embedder):
    dogs = [ticket(ctx, DOG[0], PERMITS), ticket(ctx, DOG[1], DATA),
            ticket(ctx, DOG[2], PERMITS), ticket(ctx, DOG[2], PERMITS)]
    rate(ctx, "不满意", "狗证在哪里办没人说清楚", ticket_id=dogs[2])
    licences = [ticket(ctx, text, PERMITS) for text in LICENCE]
    rate(ctx, "不满意", WAITING[0], ticket_id=licences[0])
    rate(ctx, "非常不满意", WAITING[1], ticket_id=licences[1])
    rate(ctx, "不满意", WAITING[2])  # the bot's service
    ticket(ctx, "增值税发票怎么开", TAX)

    items = collect(ctx.engine, *window())
    found = cluster(items, embedder)

    assert [(c.size, c.tickets, c.bad_ratings) for c in found] == \
        [(5, 4, 1), (3, 0, 3), (2, 2, 0), (1, 1, 0)]
    dog, waiting, licence, invoice = found
    assert set(dog.examples) == {*DOG, "狗证在哪里办没人说清楚"}  # distinct texts only
    assert dog.departments == {PERMITS: 4, DATA: 1}
    assert list(dog.departments) == [PERMITS, DATA]  # the most involved first
    assert set(waiting.examples) == set(WAITING) and waiting.departments == {PERMITS: 2}
    assert set(licence.examples) == set(LICENCE) and invoice.departments == {TAX: 1}
    members = [i for i in items if i.text in {*DOG, "狗证在哪里办没人说清楚"}]
    assert (dog.first_seen, dog.last_seen) == (min(i.at for i in members),
                                               max(i.at for i in members))
    assert len({c.id for c in found}) == 4
    assert dog.to_dict()["departments"] == {PERMITS: 4, DATA: 1}
    assert dog.to_dict()["first_seen"] == dog.first_seen.isoformat()


def test_the_cluster_id_follows_the_central_text_and_an_empty_window_has_none(embedder):
    at = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    items = [ClusterItem(TICKET, text, at + dt.timedelta(minutes=i), PERMITS)
             for i, text in enumerate(DOG)]
    [first] = cluster(items, embedder)
    [again] = cluster(list(reversed(items)), embedder)
    assert first.id == again.id and first.id.startswith("cl-")
    assert first.examples[0] == again.examples[0]
    assert cluster([], embedder) == []
