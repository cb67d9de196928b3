from retrieval.tokenize import dictionary_files, search_tokens, words


def test_domain_words_stay_whole():
    tokens = words("随申办上怎么查统一社会信用代码和免申即享政策")
    for term in ("随申办", "免申即享"):
        assert term in tokens


def test_dictionary_files_are_shipped():
    assert dictionary_files(), "retrieval/data/domain_dict*.txt missing"


def test_stopwords_and_punctuation_dropped():
    tokens = words("请问，我想问一下发票怎么办？")
    assert "发票" in tokens
    assert not {"请问", "我", "想", "，", "？", ","} & set(tokens)
    assert "，" not in search_tokens("发票，申领")


def test_search_mode_adds_parts_of_long_words():
    tokens = search_tokens("营业执照")
    assert {"营业执照", "执照"} <= set(tokens)
