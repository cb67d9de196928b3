// One policy item in the workbench: its fields, the condition builder with its sentence, the
// test panel, save (a new version, a draft again), 提交审核, 发布 (by a second editor, after the
// checks), 归档, and its history with rollback. The server decides; its refusals are shown
// with every problem it lists.
import { $, el, button } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { call, enc, errorDetails, fillDatalist, fillSelect, say } from "./editor_shared.js";
import { conditionSentence } from "./policy_sentence.js";
import { builder } from "./editor_policy_builder.js";
import { tester } from "./editor_policy_test.js";
import { formFields } from "./editor_policy_fields.js";

export const POLICY_STATUS = { draft: "草稿", in_review: "待审核", published: "已发布", archived: "已归档" };
const ACTIONS = { create: "新建", edit: "修改", import: "导入", submit: "提交审核", publish: "发布",
  archive: "归档", rollback: "回滚" };
const TEXT = { title: "p-title", clause: "p-clause", department: "p-department", benefit: "p-benefit",
  apply: "p-apply", source_url: "p-source-url" };
const DATES = { valid_from: "p-valid-from", valid_to: "p-valid-to", checked_on: "p-checked-on" };
const LABELS = { id: "事项编号", title: "事项名称", document: "文件", clause: "条款", category: "类别",
  mode: "兑现方式", department: "主管部门", benefit: "享受内容", valid_from: "施行日期",
  valid_to: "截止日期", windows: "申报窗口", apply: "办理方式", materials: "申请材料",
  unmodelled: "需核实的条件", conditions: "条件", status: "状态", checked_on: "最近核对日期",
  source_url: "原文链接", form: "申请表字段" };

export const policyForm = (() => {
  let current = null;   // the item as last read or saved (null: a new one)
  let meta = { categories: [], modes: [], departments: [] };

  const lines = (id) => $(id).value.split("\n").map((v) => v.trim()).filter(Boolean);

  // The form as an item, as an import file holds it (what is empty is left out).
  function item() {
    const out = {};
    const id = $("p-id").value.trim();
    if (id) out.id = id;
    Object.entries(TEXT).forEach(([name, input]) => {
      const v = $(input).value.trim();
      if (v) out[name] = v;
    });
    Object.entries(DATES).forEach(([name, input]) => { if ($(input).value) out[name] = $(input).value; });
    out.document = { title: $("p-doc-title").value.trim(), doc_no: $("p-doc-no").value.trim(),
      issuer: $("p-issuer").value.trim() };
    out.category = $("p-category").value;
    out.mode = $("p-mode").value;
    out.materials = lines("p-materials");
    out.unmodelled = lines("p-unmodelled");
    if (current && current.windows) out.windows = current.windows;
    const conditions = builder.get();
    if (conditions) out.conditions = conditions;
    const cases = tester.cases();
    if (cases.length) out.tests = cases;
    const form = formFields.get();
    if (form.length) out.form = form;
    return out;
  }

  function fill(p, fresh) {
    $("p-id").value = p.id || "";
    $("p-id").readOnly = !!current;
    Object.entries(TEXT).forEach(([name, input]) => { $(input).value = p[name] || ""; });
    Object.entries(DATES).forEach(([name, input]) => { $(input).value = p[name] || ""; });
    const doc = p.document || {};
    $("p-doc-title").value = doc.title || "";
    $("p-doc-no").value = doc.doc_no || "";
    $("p-issuer").value = doc.issuer || "";
    $("p-category").value = p.category || meta.categories[0] || "";
    $("p-mode").value = p.mode || meta.modes[0] || "";
    $("p-materials").value = (p.materials || []).join("\n");
    $("p-unmodelled").value = (p.unmodelled || []).join("\n");
    formFields.set(p.form);
    $("p-why").value = "";
    tester.reset(p.tests, fresh);
    builder.set(p.conditions || null);
    $("pol-heading").textContent = current ? (p.title || p.id) : "新建事项";
    $("pol-state").textContent = current ? POLICY_STATUS[current.status] || current.status : "未保存";
    $("pol-state").className = "status-tag " + (current ? current.status : "draft");
    $("pol-version").textContent = current ? "第 " + current.version + " 版 · " + (current.updated_by || "") : "";
    ["p-submit", "p-publish", "p-archive"].forEach((b) => { $(b).disabled = !current; });
    if (current) {
      $("p-submit").disabled = current.status !== "draft";
      $("p-publish").disabled = current.status !== "in_review";
      $("p-archive").disabled = current.status === "archived";
    }
    changed();
  }

  function changed() {
    $("pol-sentence").textContent = conditionSentence(builder.get(), builder.fields());
    tester.update();
  }

  function showError(err) {
    const problems = errorDetails(err);
    $("pol-error-text").textContent = err.message.split("\n")[0];
    $("pol-error-list").replaceChildren(...problems.map((p) => el("li", "",
      p.message || ((p.field || p.where || "") + "：" + (p.reason || "")))));
    $("pol-error").hidden = false;
    say(err.message.split("\n")[0], true);
  }

  function clearError() { $("pol-error").hidden = true; }

  async function open(id) {
    clearError();
    current = null;
    if (id && id !== "new") {
      try {
        current = (await call("GET", "/api/policies/" + enc(id))).policy;
      } catch (err) {
        showError(err);
        return;
      }
    }
    fill(current || {}, true);
    loadHistory();
  }

  async function save(event) {
    event.preventDefault();
    clearError();
    const why = $("p-why").value.trim();
    try {
      const saved = current ?
        await call("PUT", "/api/policies/" + enc(current.id), { item: item(), version: current.version, why }) :
        await call("POST", "/api/policies", { item: item(), why });
      current = saved.policy;
      if (location.hash !== "#policies/" + enc(current.id)) {
        history.replaceState(null, "", "#policies/" + enc(current.id));
      }
      fill(current);
      loadHistory();
      say("已保存为第 " + current.version + " 版（草稿）");
    } catch (err) {
      showError(err);
    }
  }

  async function act(action, done) {
    clearError();
    try {
      const out = await call("POST", "/api/policies/" + enc(current.id) + "/" + action,
        { why: $("p-why").value.trim() });
      current = out.policy;
      fill(current);
      loadHistory();
      say(done);
    } catch (err) {
      showError(err);
    }
  }

  function shown(field, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (field === "conditions") return conditionSentence(value, builder.fields());
    if (field === "document") return [value.title, value.doc_no, value.issuer].filter(Boolean).join(" · ");
    if (field === "status") return POLICY_STATUS[value] || value;
    if (Array.isArray(value)) return value.map((v) => typeof v === "object" ? JSON.stringify(v) : v).join("、");
    return String(value);
  }

  async function showDiff(from, to) {
    try {
      const out = await call("GET", "/api/policies/" + enc(current.id) + "/diff?from=" + from + "&to=" + to);
      const changed = out.fields.filter((f) => f.changed);
      $("h-pol-diff").textContent = "第 " + from + " 版 → 第 " + to + " 版：" +
        (changed.length ? "改了 " + changed.length + " 处" : "内容相同");
      $("pol-diff-rows").replaceChildren(...changed.map((f) => {
        const tr = el("tr", "changed");
        tr.appendChild(el("th", "", LABELS[f.field] || f.field));
        tr.appendChild(el("td", "", shown(f.field, f.from)));
        tr.appendChild(el("td", "", shown(f.field, f.to)));
        return tr;
      }));
      $("pol-diff").hidden = false;
    } catch (err) {
      say(err.message, true);
    }
  }

  async function loadHistory() {
    const body = $("pol-history");
    body.replaceChildren();
    $("pol-diff").hidden = true;
    if (!current) return;
    try {
      const versions = (await call("GET", "/api/policies/" + enc(current.id) + "/history")).versions;
      versions.forEach((v, i) => {
        const tr = el("tr");
        tr.appendChild(el("td", "num", String(v.version) + (i === 0 ? "（当前）" : "")));
        [ACTIONS[v.action] || v.action, v.actor || "—", formatDateTime(v.at), v.why || ""]
          .forEach((t) => tr.appendChild(el("td", "", t)));
        const td = el("td");
        if (v.version > 1) {
          td.appendChild(button("与上一版比较", "secondary small-btn", () => showDiff(v.version - 1, v.version),
            "与上一版比较：版本 " + v.version));
        }
        if (i > 0) {
          td.appendChild(button("回滚到此版本", "secondary small-btn", async () => {
            clearError();
            try {
              current = (await call("POST", "/api/policies/" + enc(current.id) + "/rollback",
                { version: v.version, expected_version: current.version, why: $("p-why").value.trim() })).policy;
              fill(current);
              loadHistory();
              say("已回滚到第 " + v.version + " 版的内容（新的草稿，需重新审核）");
            } catch (err) { showError(err); }
          }, "回滚到此版本：版本 " + v.version));
        }
        if (!td.childNodes.length) td.textContent = "—";
        tr.appendChild(td);
        body.appendChild(tr);
      });
    } catch (err) {
      say(err.message, true);
    }
  }

  function wire(fields, policyMeta) {
    meta = policyMeta;
    fillSelect($("p-category"), meta.categories, null, false);
    fillSelect($("p-mode"), meta.modes, null, false);
    fillDatalist($("pol-departments"), meta.departments);
    builder.wire(fields, changed);
    tester.wire(item);
    formFields.wire($("pol-form-fields"), fields, () => tester.update());
    $("pol-form").addEventListener("submit", save);
    $("pol-form").addEventListener("input", (event) => {
      if (!event.target.closest("#pol-builder")) tester.update();
    });
    $("p-submit").addEventListener("click", () => act("submit", "已提交审核，请另一位编辑发布"));
    $("p-publish").addEventListener("click", () => act("publish", "已发布：政策体检即刻生效"));
    $("p-archive").addEventListener("click", () => act("archive", "已归档"));
  }

  return { wire, open };
})();
