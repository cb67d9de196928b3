from retrieval.sparse import SparseIndex
from retrieval.tokenize import search_tokens


def test_exact_terms_rank_their_entry_first():
    idx = SparseIndex()
    idx.build({
        "hotline": search_tokens("12345市民服务热线 好差评"),
        "invoice": search_tokens("数电发票 申领"),
        "empty": [],
    })
    scores = idx.scores(search_tokens("打12345"))
    assert max(scores, key=scores.get) == "hotline"
    assert "invoice" not in scores
    assert idx.scores(search_tokens("完全无关的词语")) == {}
    assert idx.scores([]) == {}


def test_empty_index():
    idx = SparseIndex()
    idx.build({})
    assert idx.scores(["发票"]) == {}
