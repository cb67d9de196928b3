// An entry's history: every version with who changed it, the difference between two, and a
// rollback (a new version with an old one's content, after a confirmation in the page).
import { $, el, button, mark } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { ACTIONS, FIELD_LABELS, call, cell, enc, say, shownValue } from "./editor_shared.js";
import { form } from "./editor_form.js";
import { go } from "./editor_route.js";

export const hist = (() => {
  let entryId = "";
  let versions = [];
  let rollbackTo = null;
  let rollbackOpener = null;

  async function open(arg) {
    const id = arg || entryId || form.currentId();
    $("history-id").value = id;
    if (!id) {
      $("history-title").textContent = "输入条目编号，或在编辑页点“查看历史”。";
      $("history-box").hidden = true;
      return;
    }
    entryId = id;
    $("history-title").textContent = "正在载入…";
    try {
      const data = await call("GET", "/api/kb/entries/" + enc(id) + "/history");
      versions = data.versions || [];
      render();
    } catch (err) {
      $("history-title").textContent = "";
      $("history-box").hidden = true;
      say(err.message, true);
    }
  }

  function radio(name, version, checked, label) {
    const wrap = el("span");
    const input = el("input");
    input.type = "radio";
    input.name = name;
    input.value = String(version);
    input.id = name + "-" + version;
    input.checked = checked;
    const lab = el("label", "visually-hidden", label);
    lab.htmlFor = input.id;
    wrap.append(input, lab);
    return wrap;
  }

  function render() {
    const newest = versions.length ? Math.max(...versions.map((v) => v.version)) : 0;
    const current = versions.find((v) => v.version === newest);
    $("history-title").textContent = "条目 " + entryId +
      (current && current.data ? "：" + current.data.question : "") + "，共 " + versions.length + " 个版本";
    const body = $("history-rows");
    body.replaceChildren();
    const sorted = versions.slice().sort((a, b) => b.version - a.version);
    sorted.forEach((v, i) => {
      const tr = el("tr");
      const oldCell = el("td");
      oldCell.appendChild(radio("v-old", v.version, i === 1 || (sorted.length === 1), "作为旧版本比较：版本 " + v.version));
      tr.appendChild(oldCell);
      const newCell = el("td");
      newCell.appendChild(radio("v-new", v.version, i === 0, "作为新版本比较：版本 " + v.version));
      tr.appendChild(newCell);
      cell(tr, String(v.version) + (v.version === newest ? "（当前）" : ""), "num");
      cell(tr, ACTIONS[v.action] || v.action || "—");
      cell(tr, v.changed_by || "—");
      cell(tr, formatDateTime(v.changed_at), "nowrap");
      cell(tr, v.detail || "", "cell-text");
      const act = el("td");
      if (v.version !== newest) {
        act.appendChild(button("回滚到此版本", "secondary small-btn",
          (event) => askRollback(v.version, event.currentTarget), "回滚到此版本：版本 " + v.version));
      } else {
        act.textContent = "—";
      }
      tr.appendChild(act);
      body.appendChild(tr);
    });
    $("history-box").hidden = false;
    $("diff-box").hidden = true;
    $("rollback-confirm").hidden = true;
  }

  function checked(name) {
    const node = document.querySelector("input[name=" + name + "]:checked");
    return node ? parseInt(node.value, 10) : null;
  }

  async function compare() {
    let a = checked("v-old");
    let b = checked("v-new");
    if (a === null || b === null) { say("请选择两个版本", true); return; }
    if (a === b) { say("请选择两个不同的版本", true); return; }
    if (a > b) [a, b] = [b, a];
    try {
      const data = await call("GET", "/api/kb/entries/" + enc(entryId) + "/diff?from=" + a + "&to=" + b);
      $("diff-title").textContent = "版本 " + a + " → 版本 " + b + " 的差别";
      $("diff-old-head").textContent = "旧：版本 " + a;
      $("diff-new-head").textContent = "新：版本 " + b;
      const body = $("diff-rows");
      body.replaceChildren();
      let count = 0;
      (data.fields || []).forEach((f) => {
        const tr = el("tr", f.changed ? "changed" : "");
        const th = el("th");
        th.scope = "row";
        th.appendChild(document.createTextNode(FIELD_LABELS[f.field] || f.field));
        if (f.changed) { th.appendChild(el("br")); th.appendChild(mark("已修改", "changed")); count += 1; }
        tr.appendChild(th);
        cell(tr, shownValue(f.from, f.field));
        cell(tr, shownValue(f.to, f.field));
        body.appendChild(tr);
      });
      $("diff-box").hidden = false;
      say("版本 " + a + " 与版本 " + b + " 有 " + count + " 个字段不同");
    } catch (err) { say(err.message, true); }
  }

  function askRollback(version, opener) {
    rollbackTo = version;
    rollbackOpener = opener;
    $("rollback-text").textContent = "把条目 " + entryId + " 的内容恢复为版本 " + version +
      " 的样子？会生成一个新版本，历史不会丢失。";
    $("rollback-confirm").hidden = false;
    $("rollback-ok").focus();
  }

  function closeRollback() {
    $("rollback-confirm").hidden = true;
    if (rollbackOpener && document.body.contains(rollbackOpener)) rollbackOpener.focus();
    rollbackTo = null;
  }

  async function rollback() {
    if (rollbackTo === null) return;
    const version = rollbackTo;
    try {
      const data = await call("POST", "/api/kb/entries/" + enc(entryId) + "/rollback", { version });
      $("rollback-confirm").hidden = true;
      rollbackTo = null;
      await open(entryId);
      say("已回滚到版本 " + version + " 的内容，当前版本 " + data.entry.version);
      $("h-history").focus();
    } catch (err) { say(err.message, true); }
  }

  function wire() {
    $("history-pick").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("history-id").value.trim();
      if (!id) { say("请输入条目编号", true); return; }
      go("#history/" + enc(id));
    });
    $("history-compare").addEventListener("click", compare);
    $("rollback-ok").addEventListener("click", rollback);
    $("rollback-cancel").addEventListener("click", closeRollback);
    $("rollback-confirm").addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); closeRollback(); }
    });
  }

  return { open, wire };
})();

