// The portal chat: history on load, messages over the WebSocket (REST when it is down),
// buttons from the bot's replies, the 好差评 widget, queue position and the helper's messages.
// Every message of the record carries its id: each is shown once, in the record's order, and
// when the socket comes back the page re-reads what was said after the last one it showed
// (timeline.js), so nothing said while it was away is missing without a reload.
// 留言 are chat_leave.js's, 结束会话 chat_end.js's; both use ``chat``, exported below.
import { ApiError, api, reconnectingSocket } from "./api.js";
import { describeTicket, formatTime } from "./format.js";
import { SEND_FAILED, createOutgoing, isSendFailure } from "./outgoing.js";
import { isCheckStart } from "./policy_links.js";
import { createTimeline, insertionIndex, messageId, unseen } from "./timeline.js";
import { el, richText } from "./widgets.js";

const RATING_PREFIX = "/rate_service";
const RATING_CLASSES = ["r5", "r4", "r3", "r2", "r1"];

const list = document.getElementById("messages");
const form = document.getElementById("composer");
const MAX_CHARS = parseInt(form.dataset.maxChars || "2000", 10);
const input = document.getElementById("input");
const counter = document.getElementById("counter");
const sendButton = document.getElementById("send");
const errorLine = document.getElementById("composer-error");
const banner = document.getElementById("mode-banner");

let socket = null;
let socketReady = false;
let pending = [];          // resolvers waiting for a reply over the socket, in order
let mode = "bot";
let queuePoll = null;
const timeline = createTimeline();  // the record's messages on screen, by id
const outgoing = createOutgoing();  // the message being sent: its id, kept through resends

function scrollDown() {
  list.scrollTop = list.scrollHeight;
  // In 长辈模式 the page scrolls instead of the list (see style.css).
  if (document.documentElement.classList.contains("elder")) {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }
}

function disableButtons(group) {
  group.querySelectorAll("button").forEach((b) => { b.disabled = true; });
}

function renderButtons(message, bubble) {
  const buttons = message.buttons || [];
  if (!buttons.length) return;
  // The five levels make the rating bar; reason buttons after a 差评 carry a "reason".
  const isRating = buttons.every((b) => (b.payload || "").startsWith(RATING_PREFIX)
    && !(b.payload || "").includes('"reason"'));
  const group = el("div", isRating ? "rating" : "buttons");
  if (isRating) group.appendChild(el("span", "rating-label", "好差评"));
  buttons.forEach((b, i) => {
    // An answer card's 看看我是否符合 starts the check-up of its policy: marked as such.
    const kind = isRating ? "rate " + (RATING_CLASSES[i] || "")
      : isCheckStart(b.payload) ? "option policy-check" : "option";
    const button = el("button", kind, b.title || b.payload);
    button.type = "button";
    button.addEventListener("click", () => {
      disableButtons(group);
      button.classList.add("chosen");
      send(b.payload, b.title || b.payload);
    });
    group.appendChild(button);
  });
  bubble.appendChild(group);
}

// A line in the list: in the record's order when it has an id (before the first line with a
// greater one), else at the end.
function place(item, id) {
  if (id !== null) {
    item.dataset.id = String(id);
    const lines = Array.from(list.children);
    const at = insertionIndex(lines.map((li) => (li.dataset.id ? Number(li.dataset.id) : null)), id);
    if (at >= 0) { list.insertBefore(item, lines[at]); return; }
  }
  list.appendChild(item);
  scrollDown();
}

// ``live``: it came over the socket, the history or a re-read (see timeline.js). A message
// of the record already on screen is not shown again (null).
function addMessage(message, live = true) {
  if (!timeline.add(message, live)) return null;
  const id = messageId(message);
  const role = message.role || "bot";
  const item = el("li", "msg " + role);
  if (role === "notice" || role === "system" || role === "error") {
    item.appendChild(el("div", "notice-text", message.text));
    place(item, id);
    return item;
  }
  const who = { user: "我", bot: "小宝", helper: message.author || "人工帮办" }[role] || "小宝";
  const meta = el("div", "meta", who + (message.at ? " · " + formatTime(message.at) : ""));
  const bubble = el("div", "bubble");
  const body = el("div", "text");
  body.appendChild(richText(message.text));
  bubble.appendChild(body);
  renderButtons(message, bubble);
  item.appendChild(meta);
  item.appendChild(bubble);
  place(item, id);
  return item;
}

// The user's line shown before the gateway answered gets its id from the answer; a re-read
// that finds the message first takes the same line (``adoptPending``), never a second one.
function settleUserLine(item, id, live) {
  if (!item || item.dataset.id || messageId({ id }) === null) return;
  delete item.dataset.pending;
  if (!timeline.add({ id }, live)) { item.remove(); return; }  // shown by a re-read meanwhile
  item.remove();
  place(item, messageId({ id }));
}

function adoptPending(message) {
  if (message.role !== "user") return false;
  const waiting = Array.from(list.querySelectorAll("li.msg.user[data-pending]"))
    .find((li) => li.dataset.pending === message.text);
  if (!waiting) return false;
  settleUserLine(waiting, message.id, true);
  return true;
}

// What was said after the last message shown, re-read from the record: after the socket
// opens, and again once its live subscription is back (``complete``: nothing can fall between
// the re-read and the live messages any more). One at a time, in order.
let catching = Promise.resolve();
function catchUp(complete) {
  catching = catching.then(async () => {
    const got = [];
    let after = timeline.from();
    try {
      for (let page = 0; page < 20; page++) {
        const data = await api("GET", "/api/chat/history?after=" + after);
        const messages = data.messages || [];
        got.push(...messages);
        if (!data.more || !messages.length) break;
        after = messageId(messages[messages.length - 1]);
      }
    } catch { return; }  // the next reconnect re-reads again
    unseen(timeline.shownIds(), got).forEach((m) => { if (!adoptPending(m)) addMessage(m); });
    timeline.caughtUp(got, complete);
  }).catch(() => { /* a drawing fault must not stop the next re-read */ });
  return catching;
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = !text;
}

// ``quiet``: the ticket closed by the user's own doing (leaving a 留言): no "service ended".
function setState(newMode, ticket, quiet) {
  if (!quiet && mode !== "bot" && (newMode || "bot") === "bot") {
    addMessage({ role: "notice", text: "本次人工服务已结束，小宝继续为您服务。" });
  }
  mode = newMode || "bot";
  emit("state", mode, ticket);
  const text = mode === "bot" ? "" : describeTicket(ticket);
  banner.textContent = text;
  banner.hidden = !text;
  banner.className = "mode-banner " + (ticket ? ticket.status : "");
  if ((mode === "waiting" || (ticket && (ticket.status === "queued" || ticket.status === "transferred"))) && !queuePoll) {
    queuePoll = setInterval(refreshQueue, 10000);
  } else if (mode === "bot" && queuePoll) {
    clearInterval(queuePoll);
    queuePoll = null;
  }
}

async function refreshQueue() {
  try {
    const data = await api("GET", "/api/chat/queue");
    setState(data.mode, data.ticket);
  } catch { /* the next poll or push will tell */ }
}

function applyReply(data, live = true) {
  (data.messages || []).forEach((m) => addMessage(m, live));
  setState(data.mode, data.ticket);
  emit("reply", data);
}

function sendOverSocket(text, messageId) {
  return new Promise((resolve, reject) => {
    pending.push({ resolve, reject });
    socket.send(JSON.stringify({ text, message_id: messageId }));
  });
}

async function send(text, shown) {
  showError("");
  const trimmed = text.trim();
  if (!trimmed) { showError("请输入文字内容。"); return false; }
  if (trimmed.length > MAX_CHARS) {
    showError("消息太长了：最多" + MAX_CHARS + "个字，请分几次发送。");
    return false;
  }
  const clientId = outgoing.idFor(trimmed);  // the same when this text is sent again
  const mine = addMessage({ role: "user", text: shown || trimmed, at: new Date().toISOString() });
  mine.dataset.pending = shown || trimmed;  // until the answer says which message it is
  sendButton.disabled = true;
  const typing = addMessage({ role: "notice", text: mode === "bot" ? "小宝正在输入…" : "已发送" });
  try {
    const live = socketReady;
    const data = live ? await sendOverSocket(trimmed, clientId)
      : await api("POST", "/api/chat/messages", { text: trimmed, message_id: clientId });
    outgoing.sent();
    typing.remove();
    settleUserLine(mine, data.user_message_id, live);
    applyReply(data, live);
    return true;
  } catch (err) {
    typing.remove();
    if (isSendFailure(err)) {
      // Not shown as sent: the line goes, the text stays in the box, and sending it again
      // carries the same id (kept once, even if this attempt reached the record after all).
      mine.remove();
      showError(SEND_FAILED);
      return false;
    }
    addMessage({ role: "error", text: err.message });
    return err.code !== "message_too_long" && err.code !== "empty_message";
  } finally {
    sendButton.disabled = false;
    input.focus();
  }
}

function connect() {
  socket = reconnectingSocket("/ws/chat", {
    onOpen() { socketReady = true; socket.working(); catchUp(false); },
    onClose(event) {
      socketReady = false;
      timeline.dropped();
      // 4401 "conversation over" (idle expiry, or ended elsewhere): start afresh, so the
      // page shows nothing of it; the history call gives this browser a new conversation.
      if (event.code === 4401 && /over/.test(event.reason || "")) { location.reload(); return false; }
      pending.splice(0).forEach((p) => p.reject(new ApiError(0, "network", "连接中断，请重试。")));
      // Meanwhile messages go over REST (send()); the socket comes back by itself.
      return true;
    },
    onMessage(data) {
      if (data.type === "reply") {
        const p = pending.shift();
        if (p) p.resolve(data); else applyReply(data);
      } else if (data.type === "error") {
        const p = pending.shift();
        const e = data.error || {};
        if (p) p.reject(new ApiError(400, e.code, e.message));
        else addMessage({ role: "error", text: e.message });
      } else if (data.type === "message") {
        addMessage(data.message);
      } else if (data.type === "left_message") {
        emit("left_message", data.message);
      } else if (data.type === "state") {
        setState(data.mode, data.ticket);
        if (data.subscribed) catchUp(true);
      }
    },
  });
}

input.addEventListener("input", () => {
  const n = input.value.trim().length;
  counter.textContent = n + "/" + MAX_CHARS;
  counter.classList.toggle("over", n > MAX_CHARS);
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value;
  if (await send(text)) {
    input.value = "";
    input.dispatchEvent(new Event("input"));
  }
});
document.querySelectorAll(".chip").forEach((chip) => {
  chip.addEventListener("click", () => send(chip.dataset.text));
});

async function start() {
  try {
    const data = await api("GET", "/api/chat/history");
    if (data.messages && data.messages.length) {
      // Only the last reply's buttons are still offered; older ones are shown as text.
      data.messages.forEach((m, i) => addMessage(
        i === data.messages.length - 1 ? m : Object.assign({}, m, { buttons: [] })));
      addMessage({ role: "notice", text: "以上是您之前的对话记录" });
    } else {
      addMessage({ role: "bot", text: "您好！我是企业管家小宝，可以解答企业办事的政策和流程问题，也可以帮您转人工帮办或预约12345热线回电。请问有什么可以帮您？" });
    }
    setState(data.mode, data.ticket);
  } catch (err) {
    addMessage({ role: "error", text: err.message });
  }
  for (const fn of listeners.started) await fn();  // e.g. the 留言 and their answers
  connect();
}

// What the page's other parts (chat_leave.js: 留言; chat_end.js: 结束会话) use of the chat.
const listeners = { state: [], reply: [], left_message: [], started: [] };
function emit(kind, ...args) { listeners[kind].forEach((fn) => fn(...args)); }
// Started once every module of the page has run, so their listeners are in place.
document.addEventListener("DOMContentLoaded", start);
export const chat = {
  addMessage, setState, refreshQueue, showError,
  focusInput: () => input.focus(),
  on: (kind, fn) => listeners[kind].push(fn),
};
