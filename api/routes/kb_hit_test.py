"""The hit test: what the chat would answer a question, from the chat's own retriever and
reply code (``bot.actions.deps.search`` and ``bot.actions.deps.reply_with_links``, as
``action_answer_question`` does), so the test cannot disagree with the chat."""
from __future__ import annotations

from api.deps import EditorAccount, ServicesDep
from api.errors import ApiError
from api.kb_schemas import HIT_TEST_TOP_K, HitTestIn, kb_router
from bot.actions import deps as bot_deps
from retrieval.types import QueryError

router = kb_router("knowledge base")


@router.post("/hit-test")
def hit_test(body: HitTestIn, services: ServicesDep, _: EditorAccount) -> dict:
    """The chat's decision for ``query``: the same retriever instance and the same reply code as
    the bot's answer action, so the test cannot disagree with the chat."""
    try:
        result = bot_deps.search(services, body.query.strip(), HIT_TEST_TOP_K)
    except QueryError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    top = result.top
    return {
        "query": body.query, "decision": result.decision, "probability": result.probability,
        "plausibility": result.plausibility, "features": result.features,
        "candidates": [{"id": h.id, "question": h.question, "category": h.category,
                        "department": h.department, "score": round(h.score, 4),
                        "dense": round(h.dense, 4), "sparse": round(h.sparse, 4)}
                       for h in result.hits],
        "reply": {k: v for k, v in bot_deps.reply_with_links(services, result).items()
                  if k in ("text", "buttons")},
        "entry_id": top.id if result.decision == "answer" and top is not None else None,
    }
