// The helper console: duty, the queues and the helper's tickets (pushed over /ws/console),
// claiming, and the start. The workspace (the ticket on screen) is console_workspace.js's, the
// 留言 and the leader's escalation queue console_side.js's. Text goes in with textContent only.
import { api, reconnectingSocket, whoAmI } from "./api.js";
import { CHANNELS, STATUS, state, syncNow } from "./console_state.js";
import { SIDE_POLL_MS, loadSide, showTab, wireSide } from "./console_side.js";
import { addTranscript, catchUp, select, timeline, wireWorkspace } from "./console_workspace.js";
import { wireWorklist } from "./console_worklist.js";
import { formatAge } from "./format.js";
import { $, el, toast } from "./widgets.js";

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
    const item = el("li", "ticket" + (t.id === state.selected ? " active" : ""));
    item.dataset.ticket = t.id;
    // A button, so a keyboard reaches and opens the ticket too.
    const open = el("button", "ticket-open");
    open.type = "button";
    if (t.id === state.selected) open.setAttribute("aria-current", "true");
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

async function claim(channel) {
  try {
    const data = await api("POST", "/api/helper/claim", { channel });
    if (!data.ticket) { toast("暂无可领取的工单（或已达同时服务上限）"); return; }
    toast("已领取工单 " + data.ticket.id);
    syncNow();
    await select(data.ticket.id);
  } catch (err) { toast(err.message, true); }
}

// After the socket came back, its first snapshot: the lists are redrawn with the ticket on
// screen still selected; that ticket's messages said meanwhile are re-read (again when its
// live subscription is back: the "subscribed" event), or, when it has left the helper's list
// (closed, transferred) while the console was away, the whole ticket is read again.
function resume(tickets) {
  if (!state.selected) return;
  const still = tickets.find((t) => t.id === state.selected);
  if (!still) { select(state.selected); return; }
  $("ws-status").textContent = STATUS[still.status] || still.status;
  $("ws-status").className = "status-tag " + still.status;
  catchUp(false);
}

function connect() {
  let reopened = false;  // the next snapshot is the first since the socket (re)opened
  state.socket = reconnectingSocket("/ws/console", {
    onOpen() { reopened = true; },
    onMessage(data) {
      if (data.type === "snapshot") {
        state.socket.working();  // the gateway and Redis answer again
        renderQueues(data.queues || []);
        renderTickets(data.tickets || []);
        if (reopened) { reopened = false; resume(data.tickets || []); }
      } else if (data.type === "event" && data.ticket_id === state.selected) {
        if (data.event.type === "message") addTranscript(data.event);
        else if (data.event.type === "subscribed") catchUp(true);
        else select(state.selected);
      }
    },
    onClose(event) {
      timeline.dropped();
      if (event.code === 4401) { location.assign("/login?next=/console"); return false; }
      return true;  // a gateway restart or Redis outage closes the socket: back off and reconnect
    },
  });
}

function wire() {
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/helper/status", { status: "away" }); } catch { /* not on duty */ }
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
}

// An account that works no tickets but reads the 免申即享 work lists (a supervisor): the
// console shows that tab alone.
async function worklistOnly() {
  let who;
  try { who = await whoAmI(); } catch { return false; }
  if (!who.can.read_work_lists) return false;
  $("who-name").textContent = who.account.display_name || who.account.username;
  $("dashboard-link").hidden = !who.can.read_reports;
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    location.assign("/login");
  });
  document.querySelector(".console").classList.add("worklist-only");
  document.querySelectorAll(".tab:not(#tab-worklist-btn)").forEach((tab) => { tab.hidden = true; });
  document.querySelector(".console > .card h2").textContent = "免申即享";  // not 队列: none shows
  $("duty").style.display = $("duty-toggle").style.display = "none";  // no tickets to be on duty for
  wireSide();
  wireWorklist(who);
  showTab("tab-worklist");
  return true;
}

async function start() {
  let me;
  try {
    // The helper's state and what the account may do: the two answers together.
    const [helper, who] = await Promise.all([api("GET", "/api/helper/me"), whoAmI()]);
    me = state.me = { ...helper, can: who.can };
  } catch (err) {
    if (err.status === 401) { location.assign("/login?next=/console"); return; }
    if (err.status === 403 && await worklistOnly()) return;
    document.querySelector(".console").replaceChildren(el("p", "empty", err.message));
    return;
  }
  me.username = me.account.username;
  $("who-name").textContent = me.account.display_name || me.account.username;
  $("who-depts").textContent = (me.account.departments || []).join("、");
  $("dashboard-link").hidden = !me.can.read_reports;  // the rates and the 差评 queue
  renderDuty(me.status);
  renderTickets(me.tickets || []);
  wire();
  wireWorkspace();
  wireSide();
  wireWorklist(me);
  connect();
  loadSide();
  setInterval(loadSide, SIDE_POLL_MS);
}
start();
