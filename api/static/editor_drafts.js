// Helpers' proposals (帮办提议) from the console: a new entry or a change to one, compared
// with the entry it would change; accept, accept after editing, or reject with a reason.
import { $, el, richText, button, mark } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { FIELD_LABELS, call, cell, enc, say, shownValue } from "./editor_shared.js";

export const drafts = (() => {
  function count(n) {
    $("drafts-count").textContent = String(n);
    $("drafts-count").classList.toggle("hot", n > 0);
  }

  function compareTable(draft, current) {
    const wrap = el("div", "table-wrap");
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "现有条目与提议对照：" + draft.question);
    wrap.tabIndex = 0;
    const table = el("table", "data-table compare-table");
    const head = el("thead");
    const hr = el("tr");
    [["字段"], ["现有条目 " + current.id + "（版本 " + current.version + "）"], ["提议修改为"]].forEach(([t]) => {
      const th = el("th", "", t);
      th.scope = "col";
      hr.appendChild(th);
    });
    head.appendChild(hr);
    table.appendChild(head);
    const body = el("tbody");
    ["question", "answer", "category", "department"].forEach((f) => {
      const differs = shownValue(draft[f]) !== shownValue(current[f]);
      if (f !== "question" && f !== "answer" && !differs) return;
      const tr = el("tr", differs ? "changed" : "");
      const th = el("th");
      th.scope = "row";
      th.appendChild(document.createTextNode(FIELD_LABELS[f]));
      if (differs) { th.appendChild(el("br")); th.appendChild(mark("有改动", "changed")); }
      tr.appendChild(th);
      cell(tr, shownValue(current[f]));
      cell(tr, shownValue(draft[f]));
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function field(labelText, id, control) {
    const box = el("div", "field");
    const label = el("label", "", labelText);
    label.htmlFor = id;
    control.id = id;
    box.append(label, control);
    return box;
  }

  function inlineForm(item, opener, build) {
    item.querySelectorAll(".draft-form").forEach((n) => n.remove());
    const box = el("div", "draft-form inline-dialog");
    box.setAttribute("role", "group");
    const close = () => { box.remove(); opener.focus(); };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    build(box, close);
    item.appendChild(box);
    const first = box.querySelector("input, textarea");
    if (first) first.focus();
  }

  async function accept(d, edits, opener) {
    if (opener) opener.disabled = true;
    try {
      const data = await call("POST", "/api/kb/drafts/" + enc(d.id) + "/accept", edits || {});
      say("已采纳：条目 " + data.entry.id + " 已发布（版本 " + data.entry.version + "）");
      await load();
      $("h-drafts").focus();
    } catch (err) {
      if (opener) opener.disabled = false;
      say(err.message, true);
    }
  }

  function openEditAccept(item, d, opener) {
    inlineForm(item, opener, (box, close) => {
      box.setAttribute("aria-label", "修改后采纳：" + d.question);
      const q = el("input");
      q.maxLength = 500;
      q.value = d.question;
      const a = el("textarea");
      a.rows = 6;
      a.maxLength = 20000;
      a.value = d.answer;
      box.appendChild(field("问题", "accept-q-" + d.id, q));
      box.appendChild(field("答案", "accept-a-" + d.id, a));
      const row = el("div", "draft-actions");
      const ok = button("确认采纳", "primary", () => {
        const edits = {};
        if (q.value.trim() !== d.question) edits.question = q.value.trim();
        if (a.value !== d.answer) edits.answer = a.value;
        accept(d, edits, ok);
      });
      row.append(ok, button("取消", "secondary", close));
      box.appendChild(row);
    });
  }

  function openReject(item, d, opener) {
    inlineForm(item, opener, (box, close) => {
      box.setAttribute("aria-label", "不采纳：" + d.question);
      const reason = el("textarea");
      reason.rows = 3;
      reason.maxLength = 500;
      reason.required = true;
      const f = field("不采纳的原因（必填，帮办人员会看到）", "reject-reason-" + d.id, reason);
      box.appendChild(f);
      const error = el("p", "field-error", "");
      error.id = "reject-error-" + d.id;
      error.hidden = true;
      f.appendChild(error);
      const row = el("div", "draft-actions");
      const ok = button("确认不采纳", "danger", async () => {
        const text = reason.value.trim();
        if (!text) {
          error.textContent = "请写明不采纳的原因";
          error.hidden = false;
          reason.setAttribute("aria-invalid", "true");
          reason.setAttribute("aria-describedby", error.id);
          reason.focus();
          return;
        }
        ok.disabled = true;
        try {
          await call("POST", "/api/kb/drafts/" + enc(d.id) + "/reject", { reason: text });
          say("已不采纳提议：" + d.question);
          await load();
          $("h-drafts").focus();
        } catch (err) {
          ok.disabled = false;
          error.textContent = err.message;
          error.hidden = false;
          say(err.message, true);
        }
      });
      row.append(ok, button("取消", "secondary", close));
      box.appendChild(row);
    });
  }

  function render(d) {
    const item = el("li");
    const title = el("h3", "", (d.replaces ? "修改条目：" : "新条目：") + d.question);
    item.appendChild(title);
    const bits = ["提议人 " + (d.proposed_by || "—")];
    if (d.ticket_id) bits.push("工单 " + d.ticket_id);
    bits.push(formatDateTime(d.updated_at));
    bits.push("编号 " + d.id);
    item.appendChild(el("p", "item-meta", bits.filter(Boolean).join(" · ")));
    if (d.replaces_entry) {
      item.appendChild(compareTable(d, d.replaces_entry));
    } else {
      if (d.replaces) item.appendChild(el("p", "field-error", "要修改的条目 " + d.replaces + " 已不存在"));
      const dl = el("dl", "summary-list");
      dl.append(el("dt", "", "问题"), el("dd", "", d.question), el("dt", "", "答案"));
      const ans = el("dd", "cell-text");
      ans.appendChild(richText(d.answer));
      dl.appendChild(ans);
      if (d.category) dl.append(el("dt", "", "分类"), el("dd", "", d.category));
      if (d.department) dl.append(el("dt", "", "部门"), el("dd", "", d.department));
      item.appendChild(dl);
    }
    const actions = el("div", "draft-actions");
    const acceptBtn = button("采纳", "primary", () => accept(d, null, acceptBtn), "采纳：" + d.question);
    const editBtn = button("修改后采纳", "secondary", () => openEditAccept(item, d, editBtn), "修改后采纳：" + d.question);
    const rejectBtn = button("不采纳", "danger", () => openReject(item, d, rejectBtn), "不采纳：" + d.question);
    actions.append(acceptBtn, editBtn, rejectBtn);
    item.appendChild(actions);
    return item;
  }

  async function load() {
    try {
      const data = await call("GET", "/api/kb/drafts");
      const items = data.items || [];
      $("drafts-list").replaceChildren(...items.map(render));
      $("drafts-empty").hidden = items.length > 0;
      count(items.length);
    } catch (err) { say(err.message, true); }
  }

  async function refreshCount() {
    try { count(((await call("GET", "/api/kb/drafts")).items || []).length); } catch { /* shown on the view */ }
  }

  function wire() {
    $("drafts-refresh").addEventListener("click", () => load().then(() => say("已刷新帮办提议")));
  }

  return { load, wire, refreshCount };
})();

