import pytest

from retrieval.normalize import has_searchable_text, normalize


@pytest.mark.parametrize("raw,expected", [
    ("營業執照怎麼辦理", "营业执照怎么办理"),
    ("统一社会信用代码９１３１０１１３ＭＡ１Ｇ", "统一社会信用代码91310113MA1G"),
    ("  公积金\t\n开户  ", "公积金 开户"),
    ("发票？！，", "发票?!,"),
    ("开公司😀😀要什么证", "开公司 要什么证"),
    ("问\x00题\x1b", "问题"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("text,ok", [("😀😀", False), ("？！", False), ("12345", True),
                                     ("a", True)])
def test_has_searchable_text(text, ok):
    assert has_searchable_text(normalize(text)) is ok
