// The helper console: queues, claiming, the live chat with the user, the context pack,
// transfer / resolve / unresolve and knowledge-base drafts. Text goes in with textContent only.
"use strict";

(() => {
  const { el, richText, api, formatTime, wsUrl } = XB;
  const $ = (id) => document.getElementById(id);
  const CHANNELS = { online_helper: "在线", hotline_12345: "12345" };
  const STATUS = {
    queued: "排队中", claimed: "已领取", in_conversation: "服务中", transferred: "已转办",
    resolved: "已解决", unresolved: "未解决", abandoned: "已离开",
  };

  let me = null;
  let selected = null;       // ticket id shown in the workspace
  let shownPks = new Set();  // transcript messages already on screen
  let socket = null;
  const reconnect = XB.reconnectDelays();

  function toast(text, isError) {
    const node = el("div", "toast" + (isError ? " error" : ""), text);
    ($("toasts") || document.body).appendChild(node);
    setTimeout(() => node.remove(), 3500);
  }

  function formatAge(seconds) {
    if (!seconds) return "-";
    if (seconds < 60) return seconds + "秒";
    if (seconds < 3600) return Math.floor(seconds / 60) + "分";
    return Math.floor(seconds / 3600) + "时" + Math.floor((seconds % 3600) / 60) + "分";
  }

  function renderDuty(status) {
    const on = status === "on_duty";
    $("duty").className = "duty " + status;
    $("duty-label").textContent = on ? "在岗" : "离开";
    $("duty-toggle").textContent = on ? "设为离开" : "设为在岗";
    $("duty-toggle").dataset.next = on ? "away" : "on_duty";
  }

  function renderQueues(queues) {
    const body = $("queues");
    body.replaceChildren();
    queues.forEach((q) => {
      const row = el("tr", q.escalated ? "escalated" : "");
      row.appendChild(el("td", "", q.department));
      row.appendChild(el("td", "", CHANNELS[q.channel] || q.channel));
      row.appendChild(el("td", "num", q.waiting + (q.waiting_priority ? "（优先" + q.waiting_priority + "）" : "")));
      row.appendChild(el("td", "num", formatAge(q.oldest_wait_s)));
      row.appendChild(el("td", "num", String(q.in_progress)));
      if (q.escalated) row.title = q.escalated + " 个工单超时或为投诉，已提示领导";
      body.appendChild(row);
    });
  }

  function renderTickets(tickets) {
    const list = $("my-tickets");
    list.replaceChildren();
    $("no-tickets").hidden = tickets.length > 0;
    $("mine-count").textContent = String(tickets.length);
    tickets.forEach((t) => {
      const item = el("li", "ticket" + (t.id === selected ? " active" : ""));
      item.dataset.ticket = t.id;
      // A button, so a keyboard reaches and opens the ticket too.
      const open = el("button", "ticket-open");
      open.type = "button";
      if (t.id === selected) open.setAttribute("aria-current", "true");
      const title = el("span", "ticket-title");
      title.appendChild(el("span", "status-tag " + t.status, STATUS[t.status] || t.status));
      title.appendChild(document.createTextNode(" " + (t.topic || t.summary || "（未填写事项）")));
      open.appendChild(title);
      open.appendChild(el("span", "tid", (CHANNELS[t.channel] || t.channel) + " · " + (t.company || "未提供企业") + " · " + t.id));
      open.addEventListener("click", () => select(t.id));
      item.appendChild(open);
      list.appendChild(item);
    });
  }

  // --- the leader's escalation queue and 留言咨询 (polled; both change slowly) ---------------
  const REASONS = { waiting: "超时未响应", complaint: "投诉" };
  const SIDE_POLL_MS = 10000;
  let answering = null;  // the 留言 open in the answer dialog

  function historyList(history) {
    const details = el("details");
    details.appendChild(el("summary", "", "流转记录（" + history.length + "）"));
    const list = el("ol");
    history.forEach((h) => {
      list.appendChild(el("li", "", formatTime(h.at) + " " + (STATUS[h.to] || h.to) +
        (h.actor ? " · " + h.actor : "") + (h.note ? " · " + h.note : "")));
    });
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
          if (socket && socket.readyState === WebSocket.OPEN) socket.send("sync");
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

  function showTab(id) {
    document.querySelectorAll(".tab").forEach((tab) => {
      const on = tab.dataset.tab === id;
      tab.classList.toggle("active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;  // one tab stop; the arrow keys move between tabs
      $(tab.dataset.tab).hidden = !on;
    });
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

  async function loadSide() {
    const isLeader = (me.account.roles || []).includes("leader");
    $("tab-leader-btn").hidden = !isLeader;
    try {
      const jobs = [api("GET", "/api/helper/left-messages")];
      if (isLeader) jobs.push(api("GET", "/api/helper/escalations"));
      const [left, esc] = await Promise.all(jobs);
      renderLeftMessages(left.messages || []);
      if (esc) renderEscalations(esc.escalations || []);
    } catch (err) { /* the next poll retries */ }
  }

  function addTranscript(m) {
    if (m.pk && shownPks.has(m.pk)) return;
    if (m.pk) shownPks.add(m.pk);
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
    if (m.pk) {
      item.dataset.pk = m.pk;
      const later = Array.from(list.children).find((li) => li.dataset.pk && Number(li.dataset.pk) > m.pk);
      if (later) { list.insertBefore(item, later); return; }
    }
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
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
        t.helper !== me.username;
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
    (pack.history || []).forEach((h) => {
      hist.appendChild(el("li", "", formatTime(h.at) + " " + (STATUS[h.to] || h.to) + (h.actor ? " · " + h.actor : "") + (h.note ? " · " + h.note : "")));
    });
  }

  let selecting = 0;  // the latest select(): an earlier one still loading must not draw

  async function select(ticketId) {
    const call = ++selecting;
    selected = ticketId;
    shownPks = new Set();
    $("transcript").replaceChildren();
    try {
      const pack = await api("GET", "/api/helper/tickets/" + encodeURIComponent(ticketId));
      if (call !== selecting) return;
      const t = pack.ticket;
      $("ws-title").textContent = (t.topic || "工单") + " · " + (t.company || "未提供企业");
      $("ws-status").textContent = STATUS[t.status] || t.status;
      $("ws-status").className = "status-tag " + t.status;
      const mine = ["claimed", "in_conversation"].includes(t.status) && t.helper === me.username;
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

  function clearWorkspace() {
    selected = null;
    $("transcript").replaceChildren();
    $("ws-title").textContent = "请选择或领取工单";
    $("ws-status").textContent = "";
    $("ws-status").className = "status-tag";
    $("ticket-actions").hidden = true;
    $("reply").hidden = true;
    $("context").hidden = true;
    $("context-empty").hidden = false;
  }

  async function claim(channel) {
    try {
      const data = await api("POST", "/api/helper/claim", { channel });
      if (!data.ticket) { toast("暂无可领取的工单（或已达同时服务上限）"); return; }
      toast("已领取工单 " + data.ticket.id);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send("sync");
      await select(data.ticket.id);
    } catch (err) { toast(err.message, true); }
  }

  function connect() {
    socket = new WebSocket(wsUrl("/ws/console"));
    socket.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      if (data.type === "snapshot") {
        reconnect.reset();  // the gateway and Redis answer again
        renderQueues(data.queues || []);
        renderTickets(data.tickets || []);
      } else if (data.type === "event" && data.ticket_id === selected) {
        if (data.event.type === "message") addTranscript(data.event);
        else select(selected);
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) { location.assign("/login?next=/console"); return; }
      // A gateway restart or Redis outage closes the socket: back off and reconnect.
      setTimeout(connect, reconnect.next());
    });
  }

  let unsent = null;  // {ticket, text, id}: the reply whose send has not succeeded yet

  function newId() {
    return "h-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function wire() {
    $("logout").addEventListener("click", async () => {
      try { await api("POST", "/api/helper/status", { status: "away" }); } catch (err) { /* not on duty */ }
      await api("POST", "/api/auth/logout");
      location.assign("/login");
    });
    $("duty-toggle").addEventListener("click", async () => {
      const next = $("duty-toggle").dataset.next;
      try {
        await api("POST", "/api/helper/status", { status: next });
        renderDuty(next);
      } catch (err) { toast(err.message, true); }
    });
    $("claim-online").addEventListener("click", () => claim("online_helper"));
    $("claim-hotline").addEventListener("click", () => claim("hotline_12345"));

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
      if (!text || !selected) return;
      // A send that failed (the connection dropped, perhaps after the gateway saved it) is
      // sent again with the same id, so the user gets it once.
      if (!unsent || unsent.ticket !== selected || unsent.text !== text) {
        unsent = { ticket: selected, text, id: newId() };
      }
      try {
        const data = await api("POST", "/api/helper/tickets/" + encodeURIComponent(selected) + "/messages",
          { text, message_id: unsent.id });
        unsent = null;
        addTranscript(data.message);
        input.value = "";
        input.dispatchEvent(new Event("input"));
        $("ws-status").textContent = STATUS.in_conversation;
        $("ws-status").className = "status-tag in_conversation";
      } catch (err) { toast(err.message, true); }
    });

    $("btn-transfer").addEventListener("click", () => {
      const select = $("transfer-dept");
      select.replaceChildren();
      (me.all_departments || []).forEach((d) => {
        const option = el("option", "", d);
        option.value = d;
        select.appendChild(option);
      });
      $("transfer-note").value = "";
      $("dlg-transfer").showModal();
    });
    $("dlg-transfer").addEventListener("close", async () => {
      if ($("dlg-transfer").returnValue !== "ok" || !selected) return;
      try {
        await api("POST", "/api/helper/tickets/" + encodeURIComponent(selected) + "/transfer",
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
      if ($("dlg-close").returnValue !== "ok" || !selected) return;
      try {
        await api("POST", "/api/helper/tickets/" + encodeURIComponent(selected) + "/" + closing,
          { note: $("close-note").value });
        toast(closing === "resolve" ? "工单已解决，已邀请用户评价" : "工单已标记为未解决");
        clearWorkspace();
      } catch (err) { toast(err.message, true); }
    });

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

    $("btn-draft").addEventListener("click", () => {
      $("draft-question").value = $("ctx-topic").textContent === "—" ? "" : $("ctx-topic").textContent;
      $("draft-answer").value = "";
      $("draft-replaces").value = "";
      $("dlg-draft").showModal();
    });
    $("dlg-draft").addEventListener("close", async () => {
      if ($("dlg-draft").returnValue !== "ok" || !selected) return;
      try {
        const data = await api("POST", "/api/helper/tickets/" + encodeURIComponent(selected) + "/kb-draft", {
          question: $("draft-question").value, answer: $("draft-answer").value,
          replaces_entry_id: $("draft-replaces").value.trim(),
        });
        toast("已提交草稿 " + data.draft_id + "，等待知识库编辑审核");
      } catch (err) { toast(err.message, true); }
    });
  }

  async function start() {
    try {
      me = await api("GET", "/api/helper/me");
    } catch (err) {
      if (err.status === 401) { location.assign("/login?next=/console"); return; }
      document.querySelector(".console").replaceChildren(el("p", "empty", err.message));
      return;
    }
    me.username = me.account.username;
    $("who-name").textContent = me.account.display_name || me.account.username;
    $("who-depts").textContent = (me.account.departments || []).join("、");
    $("dashboard-link").hidden = !["supervisor", "leader", "admin"].some(
      (r) => (me.account.roles || []).includes(r));  // the rates and the 差评 queue
    renderDuty(me.status);
    renderTickets(me.tickets || []);
    wire();
    connect();
    loadSide();
    setInterval(loadSide, SIDE_POLL_MS);
  }
  start();
})();
