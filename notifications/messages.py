"""What a notification says: the policy, what to do, a portal link, and how to refuse more.

A message carries no more personal data than needed: no person's name, no fact of the
enterprise, only the policy's title and a link to the portal, where the enterprise signs in
to see why. Every message ends with the opt-out sentence of its channel.
"""
from __future__ import annotations

from urllib.parse import quote

from notifications.models import ELIGIBLE, MIANSHEN, POSSIBLE, SMS

SENDER = "【宝山区政务服务中心】"
SMS_OPT_OUT = "回复TD退订"
OPT_OUT_PATH = "/notifications/opt-out"  # the portal's opt-out page (the gateway serves it)
MY_POLICIES_PATH = "/my-policies"  # 我的政策: where a confirmed 免申即享 is accepted (一键确认)
MAX_TITLE_CHARS = 40  # an SMS is billed by 70 characters: the title is cut, the link is not

_BODY = {
    ELIGIBLE: "贵企业符合「{title}」的申报条件，请登录一网通办查看并申报：{link}",
    POSSIBLE: "贵企业可能符合「{title}」，还需核对几项信息，请登录一网通办完成政策体检：{link}",
    MIANSHEN: "「{title}」免申即享：经主管部门确认，贵企业符合条件，无需申报，"
              "请登录一网通办一键确认：{link}",
}


def policy_link(portal_url: str, policy_id: str) -> str:
    """The portal's check-up of this one policy (``/policy-check?policy=``)."""
    return f"{portal_url.rstrip('/')}/policy-check?policy={quote(policy_id, safe='')}"


def opt_out_sentence(channel: str, portal_url: str) -> str:
    if channel == SMS:
        return SMS_OPT_OUT
    return f"不想再收到政策推送，可点此退订：{portal_url.rstrip('/')}{OPT_OUT_PATH}"


def compose(kind: str, channel: str, policy_id: str, policy_title: str, portal_url: str) -> str:
    """The whole text of one notification (the opt-out sentence last)."""
    title = " ".join(policy_title.split())
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1] + "…"
    link = (f"{portal_url.rstrip('/')}{MY_POLICIES_PATH}" if kind == MIANSHEN
            else policy_link(portal_url, policy_id))
    body = _BODY[kind].format(title=title, link=link)
    return f"{SENDER}{body} {opt_out_sentence(channel, portal_url)}"
