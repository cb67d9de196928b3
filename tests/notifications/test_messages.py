"""A message says what policy and what to do, links the portal, carries nothing personal and
ends with its channel's opt-out sentence."""
from __future__ import annotations

import pytest

from notifications.messages import MAX_TITLE_CHARS, compose, policy_link

PORTAL = "https://ywtb.example.gov.cn/"


@pytest.mark.parametrize("kind, words", [("eligible", "符合"), ("possible", "政策体检"),
                                         ("mianshen", "免申即享")])
def test_every_kind_names_the_policy_links_it_and_ends_with_td(kind, words):
    text = compose(kind, "sms", "pol-7", "高新技术企业认定奖励", PORTAL)
    assert text.startswith("【宝山区政务服务中心】")
    assert "「高新技术企业认定奖励」" in text and words in text
    link = ("https://ywtb.example.gov.cn/my-policies" if kind == "mianshen"  # 一键确认 there
            else "https://ywtb.example.gov.cn/policy-check?policy=pol-7")
    assert link in text
    assert text.endswith("回复TD退订")


def test_an_inbox_message_ends_with_the_opt_out_link():
    text = compose("eligible", "inbox", "pol-7", "补贴", PORTAL)
    assert text.endswith("可点此退订：https://ywtb.example.gov.cn/notifications/opt-out")
    assert "回复TD" not in text


def test_a_long_title_is_cut_but_the_link_and_opt_out_stay():
    title = "关于" + "支持" * 60 + "的若干政策"
    text = compose("possible", "sms", "p 1/x", title, PORTAL)
    assert f"「{title[:MAX_TITLE_CHARS - 1]}…」" in text
    assert policy_link(PORTAL, "p 1/x") in text and "policy=p%201%2Fx" in text
    assert text.endswith("回复TD退订")
