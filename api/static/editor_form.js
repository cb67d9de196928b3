// The edit form: the entry's fields, 相似问法 one by one, 长期有效, the bot's live preview of
// the answer card, save (a conflict offers the latest version), publish and archive, and the
// errors of each field next to it.
import { $, el, richText, button, today } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { FIELD_LABELS, REVIEW, STATUS, call, enc, errorDetails, say, state } from "./editor_shared.js";
import { go, hashOf, hideUnsavedWarning, nav } from "./editor_route.js";
import { addPolicyId, renderPolicyLinks, splitIds } from "./editor_policy_links.js";

// The form's inputs by field name (similar_questions is the list below them).
const INPUTS = {
  id: "e-id", question: "e-question", answer: "e-answer", category: "e-category",
  department: "e-department", source: "e-source", source_url: "e-source-url",
  effective_from: "e-effective-from", expires_on: "e-expires-on", long_term: "e-long-term",
  reviewed_on: "e-reviewed-on", reviewed_by: "e-reviewed-by", tags: "e-tags",
  policy_ids: "e-policy-ids",
  similar_questions: "e-similar-input",
};

export const form = (() => {
  let entry = null;        // the entry as last read or saved (null: a new one)
  let similar = [];        // 相似问法, added and removed one by one
  let snapshot = "";       // the fields as loaded, to tell unsaved changes
  let prefill = null;      // fields for the next new entry (a knowledge gap's draft)
  let keptExpiry = "";     // 失效日期 set aside while 长期有效 is ticked
  let previewTimer = null;
  let previewSeq = 0;

  function fields() {
    const longTerm = $("e-long-term").checked;
    return {
      question: $("e-question").value.trim(),
      similar_questions: similar.slice(),
      answer: $("e-answer").value,
      category: $("e-category").value.trim(),
      department: $("e-department").value.trim(),
      source: $("e-source").value.trim(),
      source_url: $("e-source-url").value.trim(),
      effective_from: $("e-effective-from").value || null,
      expires_on: longTerm ? null : ($("e-expires-on").value || null),
      long_term: longTerm,
      reviewed_on: $("e-reviewed-on").value || null,
      reviewed_by: $("e-reviewed-by").value.trim(),
      tags: $("e-tags").value.split(/[,，、]/).map((t) => t.trim()).filter(Boolean),
      policy_ids: splitIds($("e-policy-ids").value),
    };
  }

  function isDirty() {
    return nav.route && nav.route.view === "edit" && snapshot !== "" && JSON.stringify(fields()) !== snapshot;
  }

  function renderSimilar(focusIndex) {
    const box = $("e-similar");
    box.replaceChildren();
    similar.forEach((text, i) => {
      const item = el("li");
      item.appendChild(el("span", "", text));
      item.appendChild(button("删除", "danger small-btn", () => removeSimilar(i), "删除相似问法：" + text));
      box.appendChild(item);
    });
    $("e-similar-empty").hidden = similar.length > 0;
    if (focusIndex !== undefined) {
      const buttons = box.querySelectorAll("button");
      if (buttons.length) buttons[Math.min(focusIndex, buttons.length - 1)].focus();
      else $("e-similar-input").focus();
    }
  }

  function addSimilar() {
    const input = $("e-similar-input");
    const text = input.value.trim();
    if (!text) { say("请先输入相似问法", true); input.focus(); return; }
    if (similar.includes(text) || text === $("e-question").value.trim()) {
      say("这个问法已经有了", true);
      return;
    }
    similar.push(text);
    input.value = "";
    renderSimilar();
    input.focus();
    changed();
    say("已添加相似问法：" + text);
  }

  function removeSimilar(i) {
    const [removed] = similar.splice(i, 1);
    renderSimilar(i);
    changed();
    say("已删除相似问法：" + removed);
  }

  function setLongTerm(on) {
    const expiry = $("e-expires-on");
    if (on && expiry.value) { keptExpiry = expiry.value; expiry.value = ""; }
    if (!on && !expiry.value && keptExpiry) { expiry.value = keptExpiry; }
    expiry.disabled = on;
    $("e-expires-hint").hidden = !on;
  }

  function fill(data) {
    const d = data || {};
    $("e-id").value = d.id || "";
    $("e-question").value = d.question || "";
    $("e-answer").value = d.answer || "";
    $("e-category").value = d.category || "";
    $("e-department").value = d.department || "";
    $("e-source").value = d.source || "";
    $("e-source-url").value = d.source_url || "";
    $("e-effective-from").value = d.effective_from || "";
    $("e-expires-on").value = d.expires_on || "";
    $("e-long-term").checked = !!d.long_term;
    keptExpiry = "";
    setLongTerm(!!d.long_term);
    $("e-reviewed-on").value = d.reviewed_on || "";
    $("e-reviewed-by").value = d.reviewed_by || "";
    $("e-tags").value = (d.tags || []).join("，");
    $("e-policy-ids").value = (d.policy_ids || []).join("，");
    $("e-similar-input").value = "";
    similar = (d.similar_questions || []).slice();
    renderSimilar();
  }

  function showEntryState() {
    const isNew = !entry;
    $("h-edit").textContent = isNew ? "新建条目" : "编辑条目 " + entry.id;
    $("e-id").readOnly = !isNew;
    $("e-id-hint").textContent = isNew ? "新建时可留空，系统自动生成；保存后不能修改。" : "条目编号不能修改。";
    const status = isNew ? "draft" : entry.status;
    $("e-status").textContent = isNew ? "未保存" : (STATUS[status] || status);
    $("e-status").className = "status-tag " + (isNew ? "" : status);
    $("e-version").textContent = isNew ? "" : "版本 " + entry.version +
      (entry.updated_by ? " · " + entry.updated_by + " " + formatDateTime(entry.updated_at) : "");
    $("e-archive").disabled = isNew || status === "archived";
    $("e-history").hidden = isNew;
    if (!isNew) $("e-history").href = "#history/" + enc(entry.id);
  }

  function load(data, asNew) {
    entry = asNew ? null : data;
    fill(data);
    clearErrors();
    snapshot = JSON.stringify(fields());
    showEntryState();
    preview();
  }

  async function open(arg) {
    hideConflict();
    if (arg === "" ) {
      if (snapshot === "") load(null, true);  // first visit: an empty form
      return;
    }
    if (arg === "new") {
      const data = prefill;
      prefill = null;
      load(data ? { ...data, id: data.id || "" } : null, true);
      return;
    }
    if (entry && entry.id === arg && snapshot !== "") { showEntryState(); return; }
    try {
      const data = await call("GET", "/api/kb/entries/" + enc(arg));
      load(data.entry, false);
    } catch (err) {
      say(err.message, true);
      load(null, true);
    }
  }

  // --- errors -------------------------------------------------------------------------------
  function clearErrors() {
    $("edit-error").hidden = true;
    $("edit-error-list").replaceChildren();
    $("edit-reload").hidden = true;
    document.querySelectorAll("#entry-form .field-error").forEach((n) => n.remove());
    document.querySelectorAll("#entry-form [aria-invalid]").forEach((n) => {
      n.removeAttribute("aria-invalid");
      n.classList.remove("invalid");
      const ids = (n.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.startsWith("err-"));
      if (ids.length) n.setAttribute("aria-describedby", ids.join(" "));
      else n.removeAttribute("aria-describedby");
    });
  }

  function hideConflict() { $("edit-reload").hidden = true; }

  function showError(err) {
    clearErrors();
    $("edit-error-text").textContent = err.message;
    const details = errorDetails(err);
    details.forEach((d) => {
      const label = FIELD_LABELS[d.field] || d.field || "";
      $("edit-error-list").appendChild(el("li", "", (label ? label + "：" : "") + d.reason));
      const input = $(INPUTS[d.field]);
      if (input && !input.hasAttribute("aria-invalid")) {
        const note = el("p", "field-error", d.reason);
        note.id = "err-" + d.field;
        (input.closest(".field") || input.parentNode).appendChild(note);
        input.setAttribute("aria-invalid", "true");
        input.classList.add("invalid");
        input.setAttribute("aria-describedby",
          ((input.getAttribute("aria-describedby") || "") + " " + note.id).trim());
      }
    });
    $("edit-reload").hidden = err.status !== 409;
    $("edit-error").hidden = false;
    say(err.message, true);
  }

  // --- preview ------------------------------------------------------------------------------
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 300);
  }

  async function runPreview() {
    const f = fields();
    const seq = ++previewSeq;
    if (!f.answer.trim()) {
      $("preview-text").replaceChildren(document.createTextNode("（填写答案后，这里显示用户看到的答复）"));
      $("preview-warnings").replaceChildren();
      $("preview-state").textContent = "";
      return;
    }
    // The card never shows the question; a placeholder lets a half-filled form preview.
    const body = { ...f, question: f.question || "（问题）", status: entry ? entry.status : "draft" };
    try {
      const data = await call("POST", "/api/kb/preview", body);
      if (seq !== previewSeq) return;
      $("preview-text").replaceChildren(richText(data.card));
      $("preview-warnings").replaceChildren(...(data.warnings || []).map((w) => el("li", "", w)));
      const parts = [data.answerable ? "现在可以回答用户" : "现在不会回答用户（未发布或不在有效期内）",
        REVIEW[data.review_state] || ""];
      if (data.needs_deep_link) parts.push("链接只是网站首页，需要深链接");
      renderPolicyLinks($("e-policy-links"), data.policy_links, (id) => {
        $("e-policy-ids").value = addPolicyId($("e-policy-ids").value, id);
        changed();
        say("已关联政策 " + id + "，保存后生效");
      });
      $("preview-state").textContent = parts.filter(Boolean).join(" · ");
    } catch (err) {
      if (seq !== previewSeq) return;
      $("preview-warnings").replaceChildren(el("li", "", "暂时无法预览：" + err.message));
    }
  }

  function changed() { preview(); }

  // --- saving -------------------------------------------------------------------------------
  async function save() {
    const f = fields();
    try {
      let data;
      if (!entry) {
        const body = { ...f, status: "draft" };
        const id = $("e-id").value.trim();
        if (id) body.id = id;
        data = await call("POST", "/api/kb/entries", body);
      } else {
        data = await call("PUT", "/api/kb/entries/" + enc(entry.id),
          { ...f, status: entry.status, version: entry.version });
      }
      const wasNew = !entry;
      load(data.entry, false);
      if (wasNew) {
        nav.route = { view: "edit", arg: data.entry.id };
        history.replaceState(null, "", hashOf(nav.route));
      }
      return data.entry;
    } catch (err) {
      showError(err);
      return null;
    }
  }

  async function setStatus(action) {
    clearErrors();
    if (!entry || isDirty()) {
      if (!(await save())) return;
    }
    try {
      const data = await call("POST", "/api/kb/entries/" + enc(entry.id) + "/" + action,
        { version: entry.version });
      load(data.entry, false);
      say(action === "publish" ? "已发布：用户现在可以问到这个条目（版本 " + data.entry.version + "）"
        : "已下线/归档：小宝不再用这个条目回答（版本 " + data.entry.version + "）");
    } catch (err) { showError(err); }
  }

  async function reload() {
    if (!entry) return;
    try {
      const data = await call("GET", "/api/kb/entries/" + enc(entry.id));
      load(data.entry, false);
      say("已重新载入最新版本 " + data.entry.version + "，请重新修改后保存");
      $("e-question").focus();
    } catch (err) { showError(err); }
  }

  function wire() {
    const formNode = $("entry-form");
    formNode.addEventListener("input", (event) => {
      if (event.target.id !== "e-similar-input") changed();
    });
    formNode.addEventListener("change", (event) => {
      if (event.target.id !== "e-similar-input") changed();
    });
    formNode.addEventListener("submit", async (event) => {
      event.preventDefault();
      const saved = await save();
      if (saved) say("已保存：" + saved.id + "（版本 " + saved.version + "，" + (STATUS[saved.status] || saved.status) + "）");
    });
    $("e-similar-add").addEventListener("click", addSimilar);
    $("e-similar-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        addSimilar();
      }
    });
    $("e-long-term").addEventListener("change", () => setLongTerm($("e-long-term").checked));
    $("e-reviewed-today").addEventListener("click", () => {
      $("e-reviewed-on").value = today();
      if (!$("e-reviewed-by").value.trim()) $("e-reviewed-by").value = state.me.username;
      changed();
      say("最近核对日期已设为今天（" + today() + "），保存后生效");
    });
    $("e-publish").addEventListener("click", () => setStatus("publish"));
    $("e-archive").addEventListener("click", () => setStatus("archive"));
    $("edit-reload").addEventListener("click", reload);
    $("unsaved-stay").addEventListener("click", () => {
      nav.pendingHash = null;
      hideUnsavedWarning();
      $("e-question").focus();
    });
    $("unsaved-leave").addEventListener("click", () => {
      const target = nav.pendingHash || "#list";
      nav.pendingHash = null;
      snapshot = "";
      entry = null;
      hideUnsavedWarning();
      go(target);
    });
    $("unsaved-warning").addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); $("unsaved-stay").click(); }
    });
  }

  function startNew(data) {
    prefill = data || null;
    snapshot = "";
    entry = null;
    go("#edit/new");
  }

  function currentId() { return entry ? entry.id : ""; }

  return { open, wire, isDirty, startNew, currentId };
})();

