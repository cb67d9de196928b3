// The console's workspace: the ticket on screen with its transcript (in the record's order),
// the context pack with the knowledge base's candidate answers (one click sends one), the
// reply box, and transfer, resolve / unresolve and a knowledge-base draft from the ticket.
import { api } from "./api.js";
import { renderCheckup } from "./console_policy.js";
import { STATUS, historyLine, state } from "./console_state.js";
import { formatTime } from "./format.js";
import { createTimeline, insertionIndex, messageId, unseen } from "./timeline.js";
import { $, el, richText, toast } from "./widgets.js";

// The transcript's messages on screen, by id, and where to re-read from after the console's
// socket dropped (timeline.js).
export const timeline = createTimeline();

// ``live``: from the socket, the context pack or a re-read (it moves the re-read's cursor).
export function addTranscript(m, live = true) {
  if (!timeline.add(m, live)) return;
  const pk = messageId(m);
  const role = m.role || "system";
  const list = $("transcript");
  const item = el("li", "msg " + (role === "helper" ? "user" : role === "user" ? "helper" : role));
  if (role === "system") {
    item.appendChild(el("div", "notice-text", m.text));
  } else {
    const who = { user: "用户", bot: "小宝", helper: m.author || "我" }[role] || role;
    item.appendChild(el("div", "meta", who + (m.at ? " · " + formatTime(m.at) : "")));
    const bubble = el("div", "bubble");
    bubble.appendChild(richText(m.text));
    item.appendChild(bubble);
  }
  // In the record's order whatever the order of arrival: a live message can land while the
  // transcript is being re-read (after a claim or a resync), before the older lines it follows.
  if (pk !== null) {
    item.dataset.pk = String(pk);
    const lines = Array.from(list.children);
    const at = insertionIndex(lines.map((li) => (li.dataset.pk ? Number(li.dataset.pk) : null)), pk);
    if (at >= 0) { list.insertBefore(item, lines[at]); return; }
  }
  list.appendChild(item);
  list.scrollTop = list.scrollHeight;
}

// The selected ticket's messages said after the last one on screen, re-read from the record
// when the console's socket is back (``complete``: its live subscription is back too); one
// re-read at a time, and none drawn for a ticket no longer on screen.
let catching = Promise.resolve();
export function catchUp(complete) {
  const ticketId = state.selected;
  if (!ticketId) return catching;
  catching = catching.then(async () => {
    if (state.selected !== ticketId) return;
    const data = await api("GET", "/api/helper/tickets/" + encodeURIComponent(ticketId) +
      "/messages?after=" + timeline.from());
    if (state.selected !== ticketId) return;
    const got = data.messages || [];
    unseen(timeline.shownIds(), got).forEach((m) => addTranscript(m));
    timeline.caughtUp(got, complete);
  }).catch(() => { /* the next reconnect or event re-reads again */ });
  return catching;
}

function setText(id, value) { $(id).textContent = value || "—"; }

function renderContext(pack) {
  const t = pack.ticket;
  $("context-empty").hidden = true;
  $("context").hidden = false;
  setText("ctx-id", t.id);
  setText("ctx-dept", t.department);
  setText("ctx-company", pack.company);
  setText("ctx-phone", t.phone);
  setText("ctx-topic", t.topic);
  setText("ctx-summary", t.summary);
  setText("ctx-intent", pack.intent);
  setText("ctx-entities", (pack.entities || []).map((e) => (e.entity || "") + "=" + (e.value || "")).join("，"));
  renderCheckup(pack.policy_check);
  const box = $("ctx-candidates");
  box.replaceChildren();
  if (!(pack.candidates || []).length) box.appendChild(el("p", "empty", "无候选答案"));
  (pack.candidates || []).forEach((c) => {
    const card = el("div", "candidate");
    card.appendChild(el("div", "q", c.question));
    card.appendChild(el("div", "score", (c.category || "") + " · 相关度 " + Number(c.score || 0).toFixed(2) + " · " + c.id));
    // The server's answer card: exactly what the one-click answer (and the bot) sends.
    if (c.card) {
      const text = el("div", "a");
      text.appendChild(richText(c.card));
      card.appendChild(text);
    }
    if (c.answerable === false) {
      card.appendChild(el("div", "score", c.card ? "该条目未发布或不在有效期内，不能一键答复" : "该条目已不在知识库中"));
    }
    const send = el("button", "option", "一键答复");
    send.type = "button";
    send.setAttribute("aria-label", "一键答复：" + c.question);
    send.disabled = c.answerable === false || !["claimed", "in_conversation"].includes(t.status) ||
      t.helper !== state.me.username;
    send.addEventListener("click", async () => {
      try {
        await api("POST", "/api/helper/tickets/" + encodeURIComponent(t.id) + "/answer", { entry_id: c.id });
        toast("已发送知识库答案");
      } catch (err) { toast(err.message, true); }
    });
    card.appendChild(send);
    box.appendChild(card);
  });
  const hist = $("ctx-history");
  hist.replaceChildren();
  (pack.history || []).forEach((h) => hist.appendChild(el("li", "", historyLine(h))));
}

let selecting = 0;  // the latest select(): an earlier one still loading must not draw

export async function select(ticketId) {
  const call = ++selecting;
  state.selected = ticketId;
  timeline.reset();
  $("transcript").replaceChildren();
  try {
    const pack = await api("GET", "/api/helper/tickets/" + encodeURIComponent(ticketId));
    if (call !== selecting) return;
    const t = pack.ticket;
    $("ws-title").textContent = (t.topic || "工单") + " · " + (t.company || "未提供企业");
    $("ws-status").textContent = STATUS[t.status] || t.status;
    $("ws-status").className = "status-tag " + t.status;
    const mine = ["claimed", "in_conversation"].includes(t.status) && t.helper === state.me.username;
    $("ticket-actions").hidden = !mine;
    $("reply").hidden = !mine;
    pack.transcript.forEach(addTranscript);
    renderContext(pack);
    document.querySelectorAll("#my-tickets li").forEach((li) => {
      const on = li.dataset.ticket === ticketId;
      li.classList.toggle("active", on);
      const open = li.querySelector(".ticket-open");
      if (on) open.setAttribute("aria-current", "true"); else open.removeAttribute("aria-current");
    });
  } catch (err) {
    toast(err.message, true);
  }
}

export function clearWorkspace() {
  state.selected = null;
  timeline.reset();
  $("transcript").replaceChildren();
  $("ws-title").textContent = "请选择或领取工单";
  $("ws-status").textContent = "";
  $("ws-status").className = "status-tag";
  $("ticket-actions").hidden = true;
  $("reply").hidden = true;
  $("context").hidden = true;
  $("context-empty").hidden = false;
}

let unsent = null;  // {ticket, text, id}: the reply whose send has not succeeded yet

function newId() {
  return "h-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
}

export function wireWorkspace() {
  const input = $("reply-input");
  input.addEventListener("input", () => {
    $("reply-counter").textContent = input.value.trim().length + "/2000";
    $("reply-counter").classList.toggle("over", input.value.trim().length > 2000);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("reply").requestSubmit();
    }
  });
  $("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !state.selected) return;
    // A send that failed (the connection dropped, perhaps after the gateway saved it) is
    // sent again with the same id, so the user gets it once.
    if (!unsent || unsent.ticket !== state.selected || unsent.text !== text) {
      unsent = { ticket: state.selected, text, id: newId() };
    }
    try {
      const data = await api("POST", "/api/helper/tickets/" + encodeURIComponent(state.selected) + "/messages",
        { text, message_id: unsent.id });
      unsent = null;
      // Sent while the socket is down, it moves no cursor: older messages may be missing.
      addTranscript(data.message, !!state.socket && state.socket.isOpen());
      input.value = "";
      input.dispatchEvent(new Event("input"));
      $("ws-status").textContent = STATUS.in_conversation;
      $("ws-status").className = "status-tag in_conversation";
    } catch (err) { toast(err.message, true); }
  });

  $("btn-transfer").addEventListener("click", () => {
    const select = $("transfer-dept");
    select.replaceChildren();
    (state.me.all_departments || []).forEach((d) => {
      const option = el("option", "", d);
      option.value = d;
      select.appendChild(option);
    });
    $("transfer-note").value = "";
    $("dlg-transfer").showModal();
  });
  $("dlg-transfer").addEventListener("close", async () => {
    if ($("dlg-transfer").returnValue !== "ok" || !state.selected) return;
    try {
      await api("POST", "/api/helper/tickets/" + encodeURIComponent(state.selected) + "/transfer",
        { department: $("transfer-dept").value, note: $("transfer-note").value });
      toast("已转办至 " + $("transfer-dept").value);
      clearWorkspace();
    } catch (err) { toast(err.message, true); }
  });

  let closing = "resolve";
  const openClose = (kind, title) => {
    closing = kind;
    $("close-title").textContent = title;
    $("close-note").value = "";
    $("dlg-close").showModal();
  };
  $("btn-resolve").addEventListener("click", () => openClose("resolve", "标记为已解决"));
  $("btn-unresolve").addEventListener("click", () => openClose("unresolve", "标记为未解决"));
  $("dlg-close").addEventListener("close", async () => {
    if ($("dlg-close").returnValue !== "ok" || !state.selected) return;
    try {
      await api("POST", "/api/helper/tickets/" + encodeURIComponent(state.selected) + "/" + closing,
        { note: $("close-note").value });
      toast(closing === "resolve" ? "工单已解决，已邀请用户评价" : "工单已标记为未解决");
      clearWorkspace();
    } catch (err) { toast(err.message, true); }
  });

  $("btn-draft").addEventListener("click", () => {
    $("draft-question").value = $("ctx-topic").textContent === "—" ? "" : $("ctx-topic").textContent;
    $("draft-answer").value = "";
    $("draft-replaces").value = "";
    $("dlg-draft").showModal();
  });
  $("dlg-draft").addEventListener("close", async () => {
    if ($("dlg-draft").returnValue !== "ok" || !state.selected) return;
    try {
      const data = await api("POST", "/api/helper/tickets/" + encodeURIComponent(state.selected) + "/kb-draft", {
        question: $("draft-question").value, answer: $("draft-answer").value,
        replaces_entry_id: $("draft-replaces").value.trim(),
      });
      toast("已提交草稿 " + data.draft_id + "，等待知识库编辑审核");
    } catch (err) { toast(err.message, true); }
  });
}
