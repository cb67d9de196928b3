// Import (a dry run first, then the real one, all or nothing, with the errors by row) and
// export (a download link for the chosen format and status).
import { $, el } from "./widgets.js";
import { FIELD_LABELS, STATUS, call, cell, errorDetails, say } from "./editor_shared.js";

export const importer = (() => {
  let checkedFile = null;

  function reset() {
    checkedFile = null;
    $("import-confirm").hidden = true;
    $("import-result").hidden = true;
  }

  function showSummary(data, done) {
    const created = data.created || [], updated = data.updated || [], unchanged = data.unchanged || [];
    $("import-result-title").textContent = done ? "导入完成" : "预检通过";
    $("import-result-text").textContent = done
      ? "已写入：新建 " + created.length + " 条，更新 " + updated.length + " 条，" + unchanged.length + " 条没有变化。"
      : "文件共 " + data.rows + " 行，没有错误。确认导入后将新建 " + created.length + " 条、更新 " +
        updated.length + " 条，" + unchanged.length + " 条没有变化。现在还没有写入任何数据。";
    const dl = $("import-summary");
    dl.replaceChildren();
    [["新建", created], ["更新", updated], ["没有变化", unchanged]].forEach(([label, ids]) => {
      dl.appendChild(el("dt", "", label + "（" + ids.length + "）"));
      dl.appendChild(el("dd", "", ids.length ? ids.join("、") : "—"));
    });
    dl.hidden = false;
    $("import-errors-wrap").hidden = true;
    $("import-result").hidden = false;
  }

  function showErrors(err) {
    const rows = errorDetails(err);
    $("import-result-title").textContent = "预检发现 " + (rows.length || "") + " 处错误";
    $("import-result-text").textContent = err.message + " 没有写入任何数据，请修改文件后重新预检。";
    const body = $("import-errors");
    body.replaceChildren();
    rows.forEach((r) => {
      const tr = el("tr");
      cell(tr, r.row === undefined || r.row === null ? "—" : String(r.row), "num");
      cell(tr, (FIELD_LABELS[r.field] ? FIELD_LABELS[r.field] + "（" + r.field + "）" : r.field) || "—");
      cell(tr, r.reason || "", "cell-text");
      body.appendChild(tr);
    });
    $("import-errors-wrap").hidden = rows.length === 0;
    $("import-summary").hidden = true;
    $("import-result").hidden = false;
  }

  async function send(dryRun) {
    const file = dryRun ? $("import-file").files[0] : checkedFile;
    if (!file) { say("请先选择要导入的文件", true); $("import-file").focus(); return; }
    const data = new FormData();
    data.append("file", file, file.name);
    const buttons = [$("import-check"), $("import-confirm")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const result = await call("POST", "/api/kb/import?dry_run=" + (dryRun ? "true" : "false"), data);
      showSummary(result, !dryRun);
      if (dryRun) {
        checkedFile = file;
        const work = (result.created || []).length + (result.updated || []).length;
        $("import-confirm").hidden = work === 0;
        say(work ? "预检通过，请核对后点“确认导入”" : "预检通过：文件里的条目都没有变化，无需导入");
        if (work) $("import-confirm").focus();
      } else {
        checkedFile = null;
        $("import-confirm").hidden = true;
        say("导入完成");
      }
    } catch (err) {
      $("import-confirm").hidden = true;
      checkedFile = null;
      if (err.status === 401) return;
      showErrors(err);
      say(err.message, true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function wire() {
    $("import-form").addEventListener("submit", (event) => { event.preventDefault(); send(true); });
    $("import-confirm").addEventListener("click", () => send(false));
    $("import-file").addEventListener("change", reset);
  }

  return { wire };
})();

// --- export -----------------------------------------------------------------------------------

export const exporter = (() => {
  function update() {
    const params = new URLSearchParams({ format: $("export-format").value });
    if ($("export-status").value) params.set("status", $("export-status").value);
    $("export-link").href = "/api/kb/export?" + params.toString();
    const st = $("export-status").value;
    $("export-link").textContent = "下载" + (st ? STATUS[st] || st : "全部") + "条目（" +
      $("export-format").selectedOptions[0].textContent + "）";
  }

  function wire() {
    $("export-format").addEventListener("change", update);
    $("export-status").addEventListener("change", update);
  }

  return { update, wire };
})();

