// 我的政策 (/my-policies), for the enterprise signed in on this browser (GET
// /api/enterprise/policies; the gateway takes the USCC from the session, never from the page):
// the 免申即享 items its department confirmed, with 一键确认; what it qualifies for and what
// still needs a fact; what was granted; the notifications it got; and the opt-out from
// 政策推送, confirmed in the page. Anonymous: a sentence and 企业登录, never any data.
import { api } from "./api.js";
import { MY_STATUS, NOTIFY_KIND, NOTIFY_STATUS, titlesOf } from "./entitlement_text.js";
import { zonedDateTime } from "./format.js";
import { $, button, el, elderMode, mark, statusLine, timeZone } from "./widgets.js";

const say = statusLine("mp-status");

function card(policy, kind) {
  const item = el("li", "pc-card " + kind);
  const head = el("div", "pc-card-head");
  head.appendChild(el("h3", "mp-card-title", policy.title));
  const marks = el("div", "pc-marks");
  if (policy.mode === "免申即享") marks.appendChild(mark("【免申即享】", "good free"));
  head.appendChild(marks);
  item.appendChild(head);
  if (policy.benefit) item.appendChild(el("p", "pc-benefit", policy.benefit));
  if (policy.department) item.appendChild(el("p", "subtle", "主管部门：" + policy.department));
  if (policy.id && policy.has_form) {  // 智能填表: the application pre-filled from the register
    const form = el("a", "secondary button-link", "下载预填申请表（PDF）");
    form.href = "/api/enterprise/forms/" + encodeURIComponent(policy.id) + ".pdf";
    form.setAttribute("download", "");
    form.setAttribute("aria-label", "下载预填申请表：" + policy.title);
    item.appendChild(form);
  }
  return item;
}

function fill(id, items, empty, draw) {
  const list = $(id);
  list.replaceChildren(...items.map(draw));
  if (!items.length) list.appendChild(el("li", "empty small mp-empty", empty));
}

let benefits = {};  // a policy's benefit by id, from the lists 我的政策 holds (items carry none)

function workCard(w) {
  const item = card({ title: w.title, department: w.department, mode: "免申即享",
    benefit: benefits[w.policy_id] }, "eligible");
  item.dataset.item = w.id;
  const state = el("p", "mp-state", MY_STATUS[w.status] || w.status);
  item.appendChild(state);
  if (w.status === "confirmed") {
    const accept = button("一键确认", "primary", () => acceptItem(w, accept, state),
      "一键确认：" + w.title);
    item.appendChild(accept);
  }
  if (w.status === "granted" && w.granted_at) {
    item.appendChild(el("p", "subtle", "兑现时间：" + zonedDateTime(w.granted_at, timeZone())));
  }
  return item;
}

async function acceptItem(w, accept, state) {
  accept.disabled = true;
  try {
    await api("POST", "/api/enterprise/work-items/" + encodeURIComponent(w.id) + "/accept", {});
    state.textContent = MY_STATUS.accepted;
    accept.remove();
    state.tabIndex = -1;
    state.focus();  // the button is gone: the keyboard stays on its card
    say("已确认“" + w.title + "”，等待主管部门兑现。");
  } catch (err) {
    accept.disabled = false;
    say(err.message, true);
  }
}

function render(mine) {
  $("mp-who").textContent = (mine.name || "贵企业") + " · 按 " + mine.day + " 有效的已发布政策核对" +
    (mine.in_register ? "" : "（登记信息中暂无贵企业的资料，可通过政策体检补充）");
  benefits = Object.fromEntries([...(mine.eligible || []), ...(mine.possible || [])]
    .map((p) => [p.id, p.benefit]));
  const items = mine.work_items || [];
  fill("mp-pending", items.filter((w) => w.status !== "granted"), "暂无待确认的免申即享事项", workCard);
  fill("mp-granted", items.filter((w) => w.status === "granted"), "暂无已兑现的政策", workCard);
  fill("mp-eligible", mine.eligible || [], "暂未发现可以享受的政策", (p) => card(p, "eligible"));
  fill("mp-possible", mine.possible || [], "暂无需要补充信息的政策", (p) => {
    const item = card(p, "possible");
    if ((p.needed || []).length) item.appendChild(el("p", "mp-needed", "还需：" + p.needed.join("、")));
    return item;
  });
  const titles = titlesOf(mine);
  fill("mp-notified", mine.notified || [], "暂未收到政策通知", (n) => el("li", "mp-note",
    zonedDateTime(n.at, timeZone()) + " · " + (titles[n.policy_id] || n.policy_id) + " · " +
    (NOTIFY_KIND[n.kind] || n.kind) + " · " + (NOTIFY_STATUS[n.status] || n.status)));
  showOptOut(mine.opted_out);
}

function showOptOut(optedOut) {
  $("mp-optout-state").textContent = optedOut
    ? "贵企业已退订政策推送，小宝不再发送政策通知；本页仍可查看。"
    : "符合新政策时，小宝会通过短信和站内信通知贵企业。";
  $("mp-optout").hidden = !!optedOut;
  $("mp-optout-confirm").hidden = true;
  $("mp-optout").setAttribute("aria-expanded", "false");
}

function wireOptOut() {
  const ask = (open) => {
    $("mp-optout-confirm").hidden = !open;
    $("mp-optout").setAttribute("aria-expanded", open ? "true" : "false");
    (open ? $("mp-optout-no") : $("mp-optout")).focus();
  };
  $("mp-optout").addEventListener("click", () => ask(true));
  $("mp-optout-no").addEventListener("click", () => ask(false));
  $("mp-optout-yes").addEventListener("click", async () => {
    $("mp-optout-yes").disabled = true;
    try {
      await api("POST", "/api/enterprise/opt-out", {});
      showOptOut(true);
      $("mp-optout-state").tabIndex = -1;
      $("mp-optout-state").focus();
      say("已退订政策推送。");
    } catch (err) {
      say(err.message, true);
    }
    $("mp-optout-yes").disabled = false;
  });
}

async function start() {
  elderMode();
  wireOptOut();
  let mine;
  try {
    mine = await api("GET", "/api/enterprise/policies");
  } catch (err) {
    $("mp-loading").hidden = true;
    if (err.status === 401) { $("mp-anonymous").hidden = false; return; }
    say(err.message, true);
    return;
  }
  $("mp-loading").hidden = true;
  render(mine);
  $("mp-board").hidden = false;
}
start();
