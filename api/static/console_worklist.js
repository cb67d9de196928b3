// The console's 免申即享待办 tab (GET /api/worklists): the enterprises a 免申即享 policy
// qualifies from authoritative, fresh facts, each with why (every fact with its source and
// as-of date, the rule version). A leader of the item's department confirms it, declines it
// (a note is required) or, once the enterprise has confirmed (一键确认), records the grant;
// supervisors read every department's. The routes decide again (xiaobao/policy.py).
import { api } from "./api.js";
import { WORK_STATUS, maskUscc, whyLines } from "./entitlement_text.js";
import { zonedDateTime } from "./format.js";
import { $, button, el, statusLine, timeZone } from "./widgets.js";

const say = statusLine("wl-status");
let me = null;
let fields = null;  // the field dictionary by name: each fact's label and unit

function decides(item) {
  // Mirrors xiaobao.policy.require_decide_work_item for what the page offers; the route checks.
  const depts = (me.account && me.account.departments) || [];
  return me.can.lead && (me.can.see_all_departments || depts.includes(item.department));
}

async function act(item, url, body, done) {
  try {
    await api("POST", "/api/worklists/" + encodeURIComponent(item.id) + url, body);
    say(done);
  } catch (err) {
    say(err.message, true);
    return;
  }
  await loadWorklist();
  $("wl-title").focus();  // the item's buttons are gone with its old state
}

function decisionForm(item) {
  const form = el("form", "wl-decide");
  form.noValidate = true;
  const noteId = "wl-note-" + item.id;
  const label = el("label", "", "说明（不予确认时必填）");
  label.htmlFor = noteId;
  const note = el("textarea");
  note.id = noteId;
  note.rows = 2;
  note.maxLength = 500;
  const error = el("p", "form-error");
  error.id = noteId + "-error";
  error.hidden = true;
  note.setAttribute("aria-describedby", error.id);
  const row = el("div", "actions-row");
  row.appendChild(button("确认", "primary small-btn", () =>
    act(item, "/decision", { confirm: true, note: note.value }, "已确认，将通知企业。")));
  row.appendChild(button("不予确认", "danger small-btn", () => {
    if (!note.value.trim()) {
      error.textContent = "不予确认须填写说明。";
      error.hidden = false;
      note.setAttribute("aria-invalid", "true");
      note.focus();
      return;
    }
    act(item, "/decision", { confirm: false, note: note.value }, "已记录不予确认。");
  }));
  form.append(label, note, error, row);
  form.addEventListener("submit", (event) => event.preventDefault());
  return form;
}

function itemCard(item) {
  const li = el("li", "wl-item");
  li.dataset.item = item.id;
  const head = el("div", "item-head");
  head.appendChild(el("span", "status-tag wl-" + item.status, WORK_STATUS[item.status] || item.status));
  head.appendChild(el("span", "tid", "#" + item.id + " · " + zonedDateTime(item.created_at, timeZone())));
  li.appendChild(head);
  li.appendChild(el("div", "item-text wl-policy", (item.title || item.policy_id) + "（第" + item.policy_version +
    "版，规则 " + item.rule_version + "）"));
  li.appendChild(el("div", "tid", item.department + " · 企业 " + maskUscc(item.uscc)));
  const lines = whyLines(item.why, fields || {});
  if (lines.length) {
    const why = el("ul", "wl-why");
    why.setAttribute("aria-label", "符合依据");
    lines.forEach((line) => why.appendChild(el("li", "", line)));
    li.appendChild(why);
  }
  if (item.note) li.appendChild(el("p", "subtle", "说明：" + item.note));
  if (item.decided_by) li.appendChild(el("p", "subtle", "审核：" + item.decided_by));
  if (decides(item) && item.status === "pending") li.appendChild(decisionForm(item));
  if (decides(item) && item.status === "accepted") {
    const row = el("div", "item-actions");
    row.appendChild(button("登记兑现", "primary small-btn", () =>
      act(item, "/grant", {}, "已登记兑现。"), "登记兑现：#" + item.id));
    li.appendChild(row);
  }
  return li;
}

export async function loadWorklist() {
  const status = $("wl-filter").value;
  try {
    if (!fields) {
      fields = Object.fromEntries(((await api("GET", "/api/policy-fields")).fields || [])
        .map((f) => [f.name, f]));
    }
    const data = await api("GET", "/api/worklists" + (status ? "?status=" + encodeURIComponent(status) : ""));
    const items = data.items || [];
    $("wl-list").replaceChildren(...items.map(itemCard));
    $("wl-empty").hidden = items.length > 0;
    if (!status || status === "pending") {
      const waiting = items.filter((i) => i.status === "pending").length;
      $("wl-count").textContent = String(waiting);
      $("wl-count").classList.toggle("hot", waiting > 0);
    }
  } catch (err) {
    say(err.message, true);
  }
}

// ``account``: {account, can} of GET /api/auth/me. Hidden unless it reads work lists.
export function wireWorklist(account) {
  me = account;
  $("tab-worklist-btn").hidden = !me.can.read_work_lists;
  if (!me.can.read_work_lists) return;
  $("wl-readonly").hidden = me.can.lead;
  $("wl-filter").addEventListener("change", loadWorklist);
  loadWorklist();
}
