// The portal chat: history on load, messages over the WebSocket (REST when it is down),
// buttons from the bot's replies, the 好差评 widget, queue position and the helper's messages.
"use strict";

(() => {
  const { el, richText, api, formatWait, formatTime, wsUrl } = XB;
  const script = document.currentScript;
  const MAX_CHARS = parseInt(script.dataset.maxChars || "2000", 10);
  const RATING_PREFIX = "/rate_service";
  const RATING_CLASSES = ["r5", "r4", "r3", "r2", "r1"];

  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("input");
  const counter = document.getElementById("counter");
  const sendButton = document.getElementById("send");
  const errorLine = document.getElementById("composer-error");
  const banner = document.getElementById("mode-banner");
  const $leaveRow = document.getElementById("leave-row");
  const leaveOpen = document.getElementById("leave-open");
  const leaveForm = document.getElementById("form-leave");
  const leaveError = document.getElementById("leave-error");
  const leaveWhy = $leaveRow.querySelector("span");
  const LEAVE_WAITING = leaveWhy.textContent;
  const LEAVE_NO_BOT = "小宝暂时只能回答知识库中的问题。您可以留言（留下电话，答复后可预约12345回电），下次打开本页即可看到答复。";

  let socket = null;
  let socketReady = false;
  const reconnect = XB.reconnectDelays();
  let pending = [];          // resolvers waiting for a reply over the socket, in order
  let mode = "bot";
  let queuePoll = null;

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
      const button = el("button", isRating ? "rate " + (RATING_CLASSES[i] || "") : "option", b.title || b.payload);
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

  function addMessage(message) {
    const role = message.role || "bot";
    const item = el("li", "msg " + role);
    if (role === "notice" || role === "system" || role === "error") {
      item.appendChild(el("div", "notice-text", message.text));
      list.appendChild(item);
      scrollDown();
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
    list.appendChild(item);
    scrollDown();
    return item;
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = !text;
  }

  function describeTicket(ticket) {
    if (!ticket) return "";
    if (ticket.channel === "hotline_12345") {
      if (ticket.status === "queued" || ticket.status === "transferred") {
        return "已为您预约12345热线回电（" + (ticket.department || "综合窗口") + "），工作人员将在服务时间内拨打您留下的电话。";
      }
      return "12345热线工作人员正在为您服务。";
    }
    if (ticket.status === "queued" || ticket.status === "transferred") {
      const pos = ticket.queue_position;
      let text = "正在为您转接人工帮办（" + (ticket.department || "综合窗口") + "）";
      if (pos === 1) text += "，您是下一位";
      else if (pos) text += "，您前面还有 " + (pos - 1) + " 位";
      if (ticket.estimated_wait_s !== undefined && ticket.estimated_wait_s !== null) {
        text += "，预计等待" + formatWait(ticket.estimated_wait_s);
      }
      return text + "。请不要关闭页面。";
    }
    if (ticket.status === "claimed" || ticket.status === "in_conversation") {
      return "人工帮办" + (ticket.helper_name ? "「" + ticket.helper_name + "」" : "") + "正在为您服务。";
    }
    return "";
  }

  function setState(newMode, ticket) {
    if (mode !== "bot" && (newMode || "bot") === "bot") {
      addMessage({ role: "notice", text: "本次人工服务已结束，小宝继续为您服务。" });
    }
    mode = newMode || "bot";
    const text = mode === "bot" ? "" : describeTicket(ticket);
    banner.textContent = text;
    banner.hidden = !text;
    banner.className = "mode-banner " + (ticket ? ticket.status : "");
    const waiting = ticket && (ticket.status === "queued" || ticket.status === "transferred");
    // 留言 instead of waiting for a helper; a booked 12345 call-back needs no one online.
    $leaveRow.hidden = !(waiting && !ticket.helpers_on_duty && ticket.channel !== "hotline_12345");
    leaveWhy.textContent = LEAVE_WAITING;
    if ($leaveRow.hidden) showLeaveForm(false);
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
    } catch (err) { /* the next poll or push will tell */ }
  }

  function applyReply(data) {
    (data.messages || []).forEach(addMessage);
    setState(data.mode, data.ticket);
    // The gateway answering without the bot offers 留言 (api/fallback.py).
    if ((data.messages || []).some((m) => m.custom && m.custom.leave_message)) {
      leaveWhy.textContent = LEAVE_NO_BOT;
      $leaveRow.hidden = false;
    }
  }

  function sendOverSocket(text) {
    return new Promise((resolve, reject) => {
      pending.push({ resolve, reject });
      socket.send(JSON.stringify({ text }));
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
    addMessage({ role: "user", text: shown || trimmed, at: new Date().toISOString() });
    sendButton.disabled = true;
    const typing = addMessage({ role: "notice", text: mode === "bot" ? "小宝正在输入…" : "已发送" });
    try {
      const data = socketReady ? await sendOverSocket(trimmed)
        : await api("POST", "/api/chat/messages", { text: trimmed });
      typing.remove();
      applyReply(data);
      return true;
    } catch (err) {
      typing.remove();
      addMessage({ role: "error", text: err.message });
      return err.code !== "message_too_long" && err.code !== "empty_message";
    } finally {
      sendButton.disabled = false;
      input.focus();
    }
  }

  function connect() {
    try { socket = new WebSocket(wsUrl("/ws/chat")); } catch (err) { return; }
    socket.addEventListener("open", () => { socketReady = true; reconnect.reset(); });
    socket.addEventListener("close", (event) => {
      socketReady = false;
      // 4401 "conversation over" (idle expiry, or ended elsewhere): start afresh, so the
      // page shows nothing of it; the history call gives this browser a new conversation.
      if (event.code === 4401 && /over/.test(event.reason || "")) { location.reload(); return; }
      pending.splice(0).forEach((p) => p.reject(new XB.ApiError(0, "network", "连接中断，请重试。")));
      // Meanwhile messages go over REST (send()); the socket comes back by itself.
      setTimeout(connect, reconnect.next());
    });
    socket.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      if (data.type === "reply") {
        const p = pending.shift();
        if (p) p.resolve(data); else applyReply(data);
      } else if (data.type === "error") {
        const p = pending.shift();
        const e = data.error || {};
        if (p) p.reject(new XB.ApiError(400, e.code, e.message));
        else addMessage({ role: "error", text: e.message });
      } else if (data.type === "message") {
        addMessage(data.message);
      } else if (data.type === "left_message") {
        addLeftMessage(data.message);
      } else if (data.type === "state") {
        setState(data.mode, data.ticket);
      }
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

  // 留言咨询: a form in the page (never a pop-up), the notice on personal information before
  // the phone field. An error keeps the form open with what was typed.
  function showLeaveError(text) {
    leaveError.textContent = text;
    leaveError.hidden = !text;
  }

  function showLeaveForm(open) {
    if (leaveForm.hidden === !open) return;
    leaveForm.hidden = !open;
    leaveOpen.setAttribute("aria-expanded", open ? "true" : "false");
    showLeaveError("");
  }

  // 结束会话 at a shared computer: the server gives this browser a new visitor secret, so a
  // reload starts an empty conversation and the previous one cannot be read from here.
  // Kiosk mode (data-idle-s): an idle page ends its conversation and clears itself, so the
  // next person at a shared terminal finds nothing of the last one.
  const idleS = Number(document.querySelector("main").dataset.idleS || 0);
  if (idleS > 0) {
    let idleTimer = 0;
    const endIdle = async () => {
      try { await XB.api("POST", "/api/chat/end", {}); } catch (err) { /* reload anyway */ }
      location.reload();
    };
    const touch = () => { clearTimeout(idleTimer); idleTimer = setTimeout(endIdle, idleS * 1000); };
    ["keydown", "pointerdown", "touchstart"].forEach((e) => document.addEventListener(e, touch));
    touch();
  }

  // 结束会话: the user may rate the conversation first (a 差评 asks why), then the page is
  // cleared and the browser gets a new conversation.
  const endConversation = async (body) => {
    try {
      await XB.api("POST", "/api/chat/end", body);
      location.reload();
    } catch (err) {
      errorLine.textContent = err.message;
      errorLine.hidden = false;
    }
  };
  document.getElementById("end-conversation").addEventListener("click", () => {
    if (document.getElementById("end-panel")) { document.getElementById("end-panel").querySelector("button").focus(); return; }
    const item = addMessage({ role: "notice", text: "结束本次会话？结束后本页将清空，下一位使用者看不到您的对话。结束前可以为本次服务评价（可选）：" });
    const bubble = item.querySelector(".bubble") || item;
    const panel = el("div", "buttons");
    panel.id = "end-panel";
    const reason = el("input");
    Object.assign(reason, { id: "end-reason", maxLength: 500, placeholder: "请说明不满意的原因（可选）" });
    reason.setAttribute("aria-label", "不满意的原因");
    ["非常满意", "满意", "基本满意", "不满意", "非常不满意"].forEach((level) => {
      const b = el("button", "option", level);
      b.type = "button";
      b.addEventListener("click", () => endConversation({ rating: level, reason: reason.value }));
      panel.appendChild(b);
    });
    const skip = el("button", "option", "不评价，直接结束");
    skip.type = "button";
    skip.addEventListener("click", () => endConversation({}));
    panel.append(skip, reason);
    bubble.appendChild(panel);
    panel.querySelector("button").focus();
  });

  leaveOpen.addEventListener("click", async () => {
    if (!leaveForm.hidden) { document.getElementById("leave-text").focus(); return; }
    try {
      const data = await api("GET", "/api/chat/left-messages");
      document.getElementById("leave-notice").textContent = data.phone_notice;
    } catch (err) { /* the form still works without the notice text */ }
    showLeaveForm(true);
    document.getElementById("leave-text").focus();
  });
  leaveForm.querySelector("button[value=cancel]").addEventListener("click", () => {
    showLeaveForm(false);
    leaveOpen.focus();
  });
  leaveForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = document.getElementById("leave-text");
    if (!text.value.trim()) {
      showLeaveError("请填写留言内容。");
      text.focus();
      return;
    }
    const submit = leaveForm.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await api("POST", "/api/chat/leave-message", {
        text: text.value,
        phone: document.getElementById("leave-phone").value.trim(),
      });
      addMessage({ role: "notice", text: "留言已提交，工作人员答复后，您再次打开本页即可看到。" });
      text.value = "";
      mode = "bot";  // the ticket was closed by leaving the message: no "service ended" notice
      setState("bot", null);
      input.focus();
    } catch (err) {
      showLeaveError(err.message);
    } finally {
      submit.disabled = false;
    }
  });

  // 留言: an answer shows as a message from the centre; a user who left a phone number may
  // ask for a 12345 call-back from it.
  const CALL_STATUS = {
    requested: "已预约，等待拨打", scheduled: "已预约，将在服务时间内拨打", dialling: "正在拨打",
    ringing: "正在呼叫", answered: "已接通", three_way_connected: "三方通话中", completed: "回电已完成",
    no_answer: "未接通，稍后重拨", unreachable: "多次未接通", failed: "呼叫失败", cancelled: "已取消",
  };

  function callbackLine(callback) {
    return "12345回电：" + (CALL_STATUS[callback.call_status] || callback.call_status || "已预约");
  }

  const pendingNotes = {};  // 留言 id -> its "waiting for an answer" line, replaced by the answer

  function addLeftMessage(m) {
    if (m.status !== "answered") {
      pendingNotes[m.id] = addMessage({ role: "notice", text: "您的留言「" + m.text + "」已提交，工作人员答复后会显示在这里。" });
      return;
    }
    if (pendingNotes[m.id]) { pendingNotes[m.id].remove(); delete pendingNotes[m.id]; }
    const item = addMessage({ role: "helper", author: "留言答复", at: m.answered_at,
      text: "您的留言「" + m.text + "」的答复：\n" + m.answer });
    if (!m.phone) return;
    const bubble = item.querySelector(".bubble");
    const row = el("div", "buttons");
    if (m.callback) {
      row.appendChild(el("span", "rating-label", callbackLine(m.callback)));
    } else {
      const ask = el("button", "option", "请12345回电（" + m.phone + "）");
      ask.type = "button";
      const base = "/api/chat/left-messages/" + encodeURIComponent(m.id);
      const book = async () => {
        const data = await api("POST", base + "/callback");
        row.replaceChildren(el("span", "rating-label", callbackLine({ call_status: "requested" })));
        addMessage({ role: "notice", text: data.notice });
        refreshQueue();
      };
      // Where the centre requires it, the number proves itself with an SMS code first.
      const askCode = async () => {
        const sent = await api("POST", base + "/phone-code", {});
        const form = el("form", "code-form");
        const label = el("label", "", "短信验证码（已发送到 " + sent.phone + "）");
        const input = el("input");
        Object.assign(input, { id: "code-" + m.id, inputMode: "numeric", autocomplete: "one-time-code",
          maxLength: 6, required: true });
        label.htmlFor = input.id;
        const ok = el("button", "option", "确认并预约回电");
        ok.type = "submit";
        form.append(label, input, ok);
        row.replaceChildren(form);
        input.focus();
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          ok.disabled = true;
          try {
            await api("POST", base + "/phone-code/verify", { code: input.value });
            await book();
          } catch (err) {
            ok.disabled = false;
            addMessage({ role: "error", text: err.message });
          }
        });
      };
      ask.addEventListener("click", async () => {
        ask.disabled = true;
        try {
          await book();
        } catch (err) {
          if (err.code === "phone_not_verified") {
            try { await askCode(); return; } catch (e) { err = e; }
          }
          ask.disabled = false;
          addMessage({ role: "error", text: err.message });
        }
      });
      row.appendChild(ask);
    }
    bubble.appendChild(row);
  }

  async function showLeftMessages() {
    try {
      const data = await api("GET", "/api/chat/left-messages");
      (data.messages || []).forEach(addLeftMessage);
    } catch (err) { /* history still shows */ }
  }

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
    await showLeftMessages();
    connect();
  }
  start();
})();
