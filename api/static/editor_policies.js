// The workbench's 政策 view (#policies, #policies/<id>, #policies/new): the policy items listed
// and searched, import (a dry run first; every bad row listed) and export, and one item open in
// its form (editor_policy_form.js). Shown to accounts that may edit policies (can.edit_policies).
import { $, el } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { call, cell, enc, errorDetails, fillSelect, say } from "./editor_shared.js";
import { POLICY_STATUS, policyForm } from "./editor_policy_form.js";

export const policies = (() => {
  let wired = null;     // the wiring's promise: the dictionary and the form's choices, once
  let pendingFile = null;

  async function wire() {
    if (!wired) {
      wired = (async () => {
        const [fields, meta] = await Promise.all([call("GET", "/api/policy-fields"),
          call("GET", "/api/policies/meta")]);
        fillSelect($("pol-status"), meta.statuses, POLICY_STATUS, true);
        policyForm.wire(fields.fields, meta);
        $("pol-filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
        $("pol-import-form").addEventListener("submit", (event) => { event.preventDefault(); upload(true); });
        $("pol-import-confirm").addEventListener("click", () => upload(false));
        $("pol-export-format").addEventListener("change", () => {
          $("pol-export-link").href = "/api/policies/export?format=" + enc($("pol-export-format").value);
        });
      })();
    }
    return wired;
  }

  function row(p) {
    const tr = el("tr");
    cell(tr, p.id, "nowrap");
    const name = el("td");
    const a = el("a", "", p.title || p.id);
    a.href = "#policies/" + enc(p.id);
    name.appendChild(a);
    tr.appendChild(name);
    cell(tr, (p.document && p.document.doc_no) || "—");
    cell(tr, p.department || "—");
    cell(tr, p.mode || "—");
    const st = el("td");
    st.appendChild(el("span", "status-tag " + p.status, POLICY_STATUS[p.status] || p.status));
    tr.appendChild(st);
    cell(tr, String(p.version), "num");
    cell(tr, formatDateTime(p.updated_at) + (p.updated_by ? " " + p.updated_by : ""), "nowrap");
    return tr;
  }

  async function load() {
    const params = new URLSearchParams({ page_size: "200" });
    const q = $("pol-q").value.trim();
    if (q) params.set("q", q);
    if ($("pol-status").value) params.set("status", $("pol-status").value);
    $("pol-summary").textContent = "正在查询…";
    try {
      const data = await call("GET", "/api/policies?" + params.toString());
      $("pol-rows").replaceChildren(...data.items.map(row));
      $("pol-empty").hidden = data.items.length > 0;
      $("pol-summary").textContent = "共 " + data.total + " 项" + (q ? "（搜索“" + q + "”）" : "");
    } catch (err) {
      $("pol-summary").textContent = "";
      say(err.message, true);
    }
  }

  async function upload(dryRun) {
    const file = dryRun ? $("pol-import-file").files[0] : pendingFile;
    $("pol-import-errors").replaceChildren();
    $("pol-import-confirm").hidden = true;
    if (!file) { $("pol-import-text").textContent = "请先选择文件。"; return; }
    const form = new FormData();
    form.append("file", file);
    try {
      const out = await call("POST", "/api/policies/import" + (dryRun ? "?dry_run=true" : ""), form);
      const counts = "新建 " + out.created.length + " 项，更新 " + out.updated.length + " 项，不变 " +
        out.unchanged.length + " 项";
      $("pol-import-text").textContent = dryRun ? "预检通过：将" + counts + "。" : "已导入：" + counts + "。";
      pendingFile = dryRun ? file : null;
      $("pol-import-confirm").hidden = !dryRun;
      if (!dryRun) load();
    } catch (err) {
      $("pol-import-text").textContent = err.message.split("\n")[0];
      $("pol-import-errors").replaceChildren(...errorDetails(err).map((e) => el("li", "check-error",
        "第" + e.row + "行 [" + e.field + "]：" + e.reason)));
    }
  }

  async function open(arg) {
    try {
      await wire();
    } catch (err) {
      wired = null;
      say(err.message, true);
      return;
    }
    $("pol-list-box").hidden = !!arg;
    $("pol-edit-box").hidden = !arg;
    $("pol-new").hidden = !!arg;
    if (arg) policyForm.open(arg);
    else load();
  }

  return { open };
})();
