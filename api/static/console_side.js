// The console's side lists, polled (both change slowly): 留言咨询 of the helper's departments,
// answered in a dialog, and for a leader the escalation queue (tickets waiting too long, and
// complaints) with 接手; and the tabs between the lists.
import { api } from "./api.js";
import { STATUS, historyLine, state, syncNow } from "./console_state.js";
import { select } from "./console_workspace.js";
import { formatAge, formatTime } from "./format.js";
import { $, el, toast } from "./widgets.js";

const REASONS = { waiting: "超时未响应", complaint: "投诉" };
export const SIDE_POLL_MS = 10000;
let answering = null;  // the 留言 open in the answer dialog

function historyList(history) {
  const details = el("details");
  details.appendChild(el("summary", "", "流转记录（" + history.length + "）"));
  const list = el("ol");
  history.forEach((h) => list.appendChild(el("li", "", historyLine(h))));
  details.appendChild(list);
  return details;
}

function renderEscalations(items) {
  const list = $("escalations");
  list.replaceChildren();
  $("no-escalations").hidden = items.length > 0;
  $("esc-count").textContent = String(items.length);
  $("esc-count").classList.toggle("hot", items.length > 0);
  items.forEach((e) => {
    const t = e.ticket;
    const item = el("li");
    const head = el("div", "item-head");
    head.appendChild(el("span", "reason", REASONS[e.reason] || e.reason));
    head.appendChild(el("span", "tid", "已等待 " + formatAge(e.waited_s)));
    item.appendChild(head);
    item.appendChild(el("div", "item-text", (t.topic || t.summary || "（未填写事项）")));
    item.appendChild(el("div", "tid", t.department + " · " + (STATUS[t.status] || t.status) +
      (t.helper ? "（" + t.helper + "）" : "") + " · " + (t.company || "未提供企业") + " · " + t.id));
    item.appendChild(historyList(e.history || []));
    const actions = el("div", "item-actions");
    const take = el("button", "primary small-btn", "接手");
    take.type = "button";
    take.addEventListener("click", async () => {
      take.disabled = true;
      try {
        await api("POST", "/api/helper/tickets/" + encodeURIComponent(t.id) + "/claim");
        toast("已接手工单 " + t.id);
        showTab("tab-mine");
        syncNow();
        await select(t.id);
      } catch (err) { toast(err.message, true); }
      loadSide();
    });
    actions.appendChild(take);
    item.appendChild(actions);
    list.appendChild(item);
  });
}

function renderLeftMessages(items) {
  const list = $("left-messages");
  list.replaceChildren();
  $("no-left-messages").hidden = items.length > 0;
  $("lm-count").textContent = String(items.length);
  $("lm-count").classList.toggle("hot", items.length > 0);
  items.forEach((m) => {
    const item = el("li");
    const head = el("div", "item-head");
    head.appendChild(el("span", "tid", m.department));
    head.appendChild(el("span", "tid", formatTime(m.created_at)));
    item.appendChild(head);
    item.appendChild(el("div", "item-text", m.text));
    item.appendChild(el("div", "tid", m.phone ? "电话 " + m.phone : "未留电话"));
    const actions = el("div", "item-actions");
    const reply = el("button", "secondary small-btn", "答复");
    reply.type = "button";
    reply.addEventListener("click", () => openAnswer(m));
    actions.appendChild(reply);
    item.appendChild(actions);
    list.appendChild(item);
  });
}

function openAnswer(m) {
  answering = m;
  $("answer-meta").textContent = m.department + " · " + formatTime(m.created_at) + (m.phone ? " · 电话 " + m.phone : "");
  $("answer-question").textContent = m.text;
  $("answer-text").value = "";
  $("dlg-answer").showModal();
}

export function showTab(id) {
  document.querySelectorAll(".tab").forEach((tab) => {
    const on = tab.dataset.tab === id;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;  // one tab stop; the arrow keys move between tabs
    $(tab.dataset.tab).hidden = !on;
  });
  // The 免申即享 work list needs the width: the first card spans the console while it shows.
  document.querySelector(".console").classList.toggle("wide-tab", id === "tab-worklist");
}

function moveTab(event) {
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (!step) return;
  const tabs = Array.from(document.querySelectorAll(".tab")).filter((t) => !t.hidden);
  const next = tabs[(tabs.indexOf(event.currentTarget) + step + tabs.length) % tabs.length];
  event.preventDefault();
  showTab(next.dataset.tab);
  next.focus();
}

export async function loadSide() {
  const isLeader = state.me.can.lead;  // the escalation queue
  $("tab-leader-btn").hidden = !isLeader;
  try {
    const jobs = [api("GET", "/api/helper/left-messages")];
    if (isLeader) jobs.push(api("GET", "/api/helper/escalations"));
    const [left, esc] = await Promise.all(jobs);
    renderLeftMessages(left.messages || []);
    if (esc) renderEscalations(esc.escalations || []);
  } catch { /* the next poll retries */ }
}

export function wireSide() {
  document.querySelectorAll(".tab").forEach((tab) => {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
    tab.addEventListener("keydown", moveTab);
  });
  $("dlg-answer").addEventListener("close", async () => {
    if ($("dlg-answer").returnValue !== "ok" || !answering) return;
    try {
      await api("POST", "/api/helper/left-messages/" + encodeURIComponent(answering.id) + "/answer",
        { answer: $("answer-text").value });
      toast("答复已发送");
    } catch (err) { toast(err.message, true); }
    answering = null;
    loadSide();
  });
}
