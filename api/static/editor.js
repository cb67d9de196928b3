// The knowledge editors' workbench: entry list, edit form with the bot's live preview, history
// and diff, import (dry run first), export, hit test, helpers' proposals and knowledge gaps.
// One page, views chosen by the URL hash (#list, #edit/<id>, #history/<id>, …). Everything
// from the server goes in with textContent (XB.el / XB.richText), never as markup.
"use strict";

(() => {
  const { el, richText, api } = XB;
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  const VIEWS = ["list", "edit", "history", "import", "export", "hittest", "drafts", "gaps"];
  const STATUS = { draft: "草稿", published: "已发布", archived: "已归档" };
  const REVIEW = { unreviewed: "未核对", stale: "超期", current: "已核对" };
  const DECISIONS = { answer: "回答", suggest: "推荐", abstain: "不回答" };
  const REASONS = { abstain: "未回答", suggest: "只给推荐", unhelpful: "没帮助", handoff: "转人工" };
  const MATCH = { meaning: "按含义", words: "按关键词", both: "含义+关键词" };
  const FIELD_LABELS = {
    id: "条目编号", question: "问题", similar_questions: "相似问法", answer: "答案", category: "分类",
    department: "部门", source: "来源", source_url: "来源链接", effective_from: "生效日期",
    expires_on: "失效日期", long_term: "长期有效", reviewed_on: "最近核对日期", reviewed_by: "核对人",
    tags: "标签", status: "状态", version: "版本",
  };
  const ACTIONS = {
    create: "新建", update: "修改", publish: "发布", archive: "下线/归档", unpublish: "撤回为草稿",
    rollback: "回滚", import: "导入", propose: "帮办提议", accept: "采纳提议", accept_draft: "采纳提议",
    reject: "不采纳", seed: "初始导入",
  };
  const FEATURES = {
    question: "与标准问法的相似度", passage: "与问答整体的相似度", margin: "领先第二名的分差",
    coverage: "关键词覆盖（问答，含口语映射）", coverage_q: "关键词覆盖（标准问法）",
  };
  // The form's inputs by field name (similar_questions is the list below them).
  const INPUTS = {
    id: "e-id", question: "e-question", answer: "e-answer", category: "e-category",
    department: "e-department", source: "e-source", source_url: "e-source-url",
    effective_from: "e-effective-from", expires_on: "e-expires-on", long_term: "e-long-term",
    reviewed_on: "e-reviewed-on", reviewed_by: "e-reviewed-by", tags: "e-tags",
    similar_questions: "e-similar-input",
  };

  let me = null;
  let meta = { categories: [], departments: [], statuses: ["draft", "published", "archived"] };
  let route = null;          // {view, arg} on screen
  let pendingHash = null;    // where the editor wanted to go when the form had unsaved changes

  // --- small helpers ---------------------------------------------------------------------------

  let readOnly = false;      // a supervisor: the knowledge gaps only, nothing to change
  const say = XB.statusLine("status");
  const call = XB.pageApi("/editor");

  function errorDetails(err) {
    const body = err.body || {};
    return (body.error && body.error.errors) || body.errors || [];
  }

  // Days are the centre's, whatever the browser's zone: as the API counts them.
  const today = () => XB.centreDay(0);

  function formatDateTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function shownValue(value, field) {
    if (field === "status" && STATUS[value]) return STATUS[value];
    if (value === null || value === undefined || value === "") return "（空）";
    if (Array.isArray(value)) return value.length ? value.join("\n") : "（空）";
    if (value === true) return "是";
    if (value === false) return "否";
    return String(value);
  }

  function score(value) {
    return value === undefined || value === null ? "—" : Number(value).toFixed(3);
  }

  function cell(row, text, className) {
    const td = el("td", className || "", text);
    row.appendChild(td);
    return td;
  }

  function editLink(id, text) {
    const a = el("a", "", text || id);
    a.href = "#edit/" + enc(id);
    return a;
  }

  function button(text, className, onClick, label) {
    const b = el("button", className, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function mark(text, kind) { return el("span", "mark" + (kind ? " " + kind : ""), text); }

  function reviewMark(entry) {
    const state = entry.review_state;
    if (state === "current") return mark("已核对 " + (entry.reviewed_on || ""), "good");
    if (state === "stale") return mark("超期（" + (entry.reviewed_on || "") + "核对）", "bad");
    return mark("未核对", "warn");
  }

  function fillSelect(select, values, labels, keepFirst) {
    const first = keepFirst ? select.options[0] : null;
    select.replaceChildren();
    if (first) select.appendChild(first);
    values.forEach((v) => {
      const option = el("option", "", (labels && labels[v]) || v);
      option.value = v;
      select.appendChild(option);
    });
  }

  function fillDatalist(list, values) {
    list.replaceChildren();
    values.forEach((v) => { const o = el("option"); o.value = v; list.appendChild(o); });
  }

  // --- routing -----------------------------------------------------------------------------------

  function parseHash() {
    const raw = location.hash.replace(/^#/, "");
    const slash = raw.indexOf("/");
    const view = slash < 0 ? raw : raw.slice(0, slash);
    let arg = slash < 0 ? "" : raw.slice(slash + 1);
    try { arg = decodeURIComponent(arg); } catch (err) { arg = ""; }
    if (readOnly) return { view: "gaps", arg: "" };  // a supervisor reads the gaps only
    return { view: VIEWS.includes(view) ? view : "list", arg };
  }

  function hashOf(r) { return "#" + r.view + (r.arg ? "/" + enc(r.arg) : ""); }

  function onHashChange() {
    const next = parseHash();
    const leavingEditor = route && route.view === "edit" &&
      !(next.view === "edit" && (next.arg === route.arg || next.arg === ""));
    if (leavingEditor && form.isDirty()) {
      pendingHash = location.hash || "#list";
      history.replaceState(null, "", hashOf(route));
      showUnsavedWarning();
      return;
    }
    show(next, true);
  }

  function show(next, moveFocus) {
    route = next;
    say.clear();  // a message belongs to the view it was said in
    VIEWS.forEach((v) => { $("view-" + v).hidden = v !== next.view; });
    document.querySelectorAll("#editor-nav a").forEach((a) => {
      if (a.dataset.view === next.view) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    hideUnsavedWarning();
    const loaders = {
      list: () => list.load(), edit: () => form.open(next.arg), history: () => hist.open(next.arg),
      import: () => {}, export: () => exporter.update(), hittest: () => {},
      drafts: () => drafts.load(), gaps: () => gaps.open(),
    };
    loaders[next.view]();
    if (moveFocus) $("h-" + next.view).focus();
  }

  function go(hash) {
    if (location.hash === hash) show(parseHash(), true);
    else location.hash = hash;
  }

  function showUnsavedWarning() {
    $("unsaved-warning").hidden = false;
    $("unsaved-stay").focus();
  }

  function hideUnsavedWarning() { $("unsaved-warning").hidden = true; }

  // --- 1. the entry list ------------------------------------------------------------------------

  const list = (() => {
    const state = { page: 1, page_size: 50, q: "", category: "", status: "", department: "", stale: false };
    let lastTotal = 0;

    function readFilters() {
      state.q = $("f-q").value.trim();
      state.category = $("f-category").value;
      state.status = $("f-status").value;
      state.department = $("f-department").value;
      state.stale = $("f-stale").checked;
    }

    function row(entry) {
      const tr = el("tr");
      cell(tr, entry.id, "nowrap");
      const q = el("td");
      q.appendChild(editLink(entry.id, entry.question));
      if (entry.needs_deep_link) q.appendChild(el("br"));
      if (entry.needs_deep_link) q.appendChild(mark("需深链接", "warn"));
      if (entry.match) {
        q.appendChild(el("br"));
        q.appendChild(mark((MATCH[entry.match] || entry.match) +
          (entry.score !== undefined && entry.score !== null ? " " + Number(entry.score).toFixed(2) : "")));
      }
      tr.appendChild(q);
      cell(tr, entry.category || "—");
      cell(tr, entry.department || "—");
      const st = el("td");
      st.appendChild(el("span", "status-tag " + entry.status, STATUS[entry.status] || entry.status));
      tr.appendChild(st);
      const rv = el("td");
      rv.appendChild(reviewMark(entry));
      tr.appendChild(rv);
      cell(tr, String(entry.version), "num");
      cell(tr, formatDateTime(entry.updated_at) + (entry.updated_by ? " " + entry.updated_by : ""), "nowrap");
      return tr;
    }

    async function load() {
      const params = new URLSearchParams({ page: String(state.page), page_size: String(state.page_size) });
      ["q", "category", "status", "department"].forEach((k) => { if (state[k]) params.set(k, state[k]); });
      if (state.stale) params.set("stale", "true");
      $("list-summary").textContent = "正在查询…";
      try {
        const data = await call("GET", "/api/kb/entries?" + params.toString());
        const body = $("list-rows");
        body.replaceChildren(...data.items.map(row));
        lastTotal = data.total;
        const pages = Math.max(1, Math.ceil(data.total / state.page_size));
        $("list-empty").hidden = data.items.length > 0;
        $("list-summary").textContent = "共 " + data.total + " 条" + (state.q ? "（搜索“" + state.q + "”）" : "");
        $("page-info").textContent = "第 " + state.page + " / " + pages + " 页";
        $("page-prev").disabled = state.page <= 1;
        $("page-next").disabled = state.page >= pages;
        return true;
      } catch (err) {
        $("list-summary").textContent = "";
        say(err.message, true);
        return false;
      }
    }

    function wire() {
      $("list-filters").addEventListener("submit", (event) => {
        event.preventDefault();
        readFilters();
        state.page = 1;
        load().then((ok) => { if (ok) say("已查询，共 " + lastTotal + " 条"); });
      });
      $("f-reset").addEventListener("click", () => {
        $("list-filters").reset();
        readFilters();
        state.page = 1;
        load();
      });
      $("page-prev").addEventListener("click", () => { state.page -= 1; load(); });
      $("page-next").addEventListener("click", () => { state.page += 1; load(); });
    }

    return { load, wire };
  })();

  // --- 2. the edit form --------------------------------------------------------------------------

  const form = (() => {
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
      };
    }

    function isDirty() {
      return route && route.view === "edit" && snapshot !== "" && JSON.stringify(fields()) !== snapshot;
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
          route = { view: "edit", arg: data.entry.id };
          history.replaceState(null, "", hashOf(route));
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
        if (!$("e-reviewed-by").value.trim()) $("e-reviewed-by").value = me.username;
        changed();
        say("最近核对日期已设为今天（" + today() + "），保存后生效");
      });
      $("e-publish").addEventListener("click", () => setStatus("publish"));
      $("e-archive").addEventListener("click", () => setStatus("archive"));
      $("edit-reload").addEventListener("click", reload);
      $("unsaved-stay").addEventListener("click", () => {
        pendingHash = null;
        hideUnsavedWarning();
        $("e-question").focus();
      });
      $("unsaved-leave").addEventListener("click", () => {
        const target = pendingHash || "#list";
        pendingHash = null;
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

  // --- 3. history, diff and rollback -------------------------------------------------------------

  const hist = (() => {
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

  // --- 4. import: a dry run first, then the real one ----------------------------------------------

  const importer = (() => {
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

  // --- 5. export -----------------------------------------------------------------------------------

  const exporter = (() => {
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

  // --- 6. hit test ---------------------------------------------------------------------------------

  const hitTest = (() => {
    async function run(query) {
      try {
        const data = await call("POST", "/api/kb/hit-test", { query });
        const decision = $("hit-decision");
        decision.textContent = (DECISIONS[data.decision] || data.decision) + "（" + data.decision + "）";
        decision.className = "decision " + data.decision;
        const p = Number(data.probability || 0);
        $("hit-probability").textContent = p.toFixed(3) + "（" + Math.round(p * 100) + "%）";
        const q = Number(data.plausibility || 0);
        $("hit-plausibility").textContent = q.toFixed(3) + "（" + Math.round(q * 100) + "%）";
        const entryCell = $("hit-entry");
        entryCell.replaceChildren();
        if (data.entry_id) entryCell.appendChild(editLink(data.entry_id));
        else entryCell.textContent = "—（不直接回答）";
        const reply = data.reply || {};
        $("hit-reply").replaceChildren(richText(reply.text || ""));
        $("hit-buttons").replaceChildren(...(reply.buttons || []).map((b) => el("li", "", b.title || b.payload)));
        $("hit-buttons").hidden = !(reply.buttons || []).length;
        const rows = $("hit-candidates");
        rows.replaceChildren();
        (data.candidates || []).forEach((c, i) => {
          const tr = el("tr");
          cell(tr, String(i + 1), "num");
          const idCell = el("td", "nowrap");
          idCell.appendChild(editLink(c.id));
          tr.appendChild(idCell);
          cell(tr, c.question || "");
          cell(tr, c.category || "—");
          cell(tr, c.department || "—");
          cell(tr, score(c.score), "num");
          cell(tr, score(c.dense), "num");
          cell(tr, score(c.sparse), "num");
          rows.appendChild(tr);
        });
        if (!(data.candidates || []).length) {
          const tr = el("tr");
          const td = cell(tr, "没有候选条目");
          td.colSpan = 8;
          rows.appendChild(tr);
        }
        const feats = $("hit-features");
        feats.replaceChildren();
        Object.entries(data.features || {}).forEach(([k, v]) => {
          const tr = el("tr");
          const th = el("th", "", (FEATURES[k] || k) + "（" + k + "）");
          th.scope = "row";
          tr.appendChild(th);
          cell(tr, score(v), "num");
          feats.appendChild(tr);
        });
        $("hit-result").hidden = false;
        say("测试完成：" + (DECISIONS[data.decision] || data.decision) +
          (data.entry_id ? "，条目 " + data.entry_id : ""));
      } catch (err) { say(err.message, true); }
    }

    function wire() {
      $("hit-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const query = $("hit-query").value.trim();
        if (!query) { say("请输入测试问题", true); $("hit-query").focus(); return; }
        run(query);
      });
    }

    return { wire };
  })();

  // --- 7. helpers' proposals -----------------------------------------------------------------------

  const drafts = (() => {
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
      try { count(((await call("GET", "/api/kb/drafts")).items || []).length); } catch (err) { /* shown on the view */ }
    }

    function wire() {
      $("drafts-refresh").addEventListener("click", () => load().then(() => say("已刷新帮办提议")));
    }

    return { load, wire, refreshCount };
  })();

  // --- 8. knowledge gaps ---------------------------------------------------------------------------

  const gaps = (() => {
    let loaded = false;

    function render(c, i) {
      const item = el("li");
      item.appendChild(el("h3", "", "第 " + (i + 1) + " 组 · " + c.size + " 个问题：" + (c.examples[0] || "")));
      item.appendChild(el("p", "item-meta", "首次 " + formatDateTime(c.first_seen) + " · 最近 " + formatDateTime(c.last_seen)));
      const reasons = el("div", "reasons");
      Object.entries(c.reasons || {}).forEach(([k, n]) => { if (n) reasons.appendChild(mark((REASONS[k] || k) + " " + n, "warn")); });
      item.appendChild(reasons);
      item.appendChild(el("p", "subtle", "用户的问法："));
      const examples = el("ul", "examples");
      (c.examples || []).forEach((t) => examples.appendChild(el("li", "", t)));
      item.appendChild(examples);
      if ((c.nearest || []).length) {
        item.appendChild(el("p", "subtle", "最接近的已有条目："));
        const near = el("ul", "examples");
        c.nearest.forEach((n) => {
          const li = el("li");
          li.appendChild(readOnly ? el("span", "", n.question) : editLink(n.id, n.question));
          li.appendChild(document.createTextNode("（" + n.id + "，相关度 " + Number(n.score || 0).toFixed(2) + "）"));
          near.appendChild(li);
        });
        item.appendChild(near);
      } else {
        item.appendChild(el("p", "subtle", "没有相近的已有条目。"));
      }
      if (readOnly) return item;  // supervisors read; editors act
      const actions = el("div", "draft-actions");
      actions.appendChild(button("新建条目", "primary", () => {
        form.startNew(c.draft || { question: c.examples[0] || "", similar_questions: (c.examples || []).slice(1) });
      }, "按这一组新建条目：" + (c.examples[0] || "")));
      item.appendChild(actions);
      return item;
    }

    async function load() {
      const params = new URLSearchParams();
      if ($("gaps-from").value) params.set("from", $("gaps-from").value);
      if ($("gaps-to").value) params.set("to", $("gaps-to").value);
      $("gaps-summary").textContent = "正在分析…";
      try {
        const data = await call("GET", "/api/kb/gaps?" + params.toString());
        const clusters = data.clusters || [];
        $("gaps-list").replaceChildren(...clusters.map(render));
        $("gaps-empty").hidden = clusters.length > 0;
        $("gaps-summary").textContent = (data.from || "") + " 至 " + (data.to || "") + "：" +
          (data.questions || 0) + " 个没答好的问题，归为 " + clusters.length + " 组" +
          (data.note ? "。" + data.note : "");
        loaded = true;
      } catch (err) {
        $("gaps-summary").textContent = "";
        say(err.message, true);
      }
    }

    function open() {
      if (!$("gaps-from").value) $("gaps-from").value = XB.centreDay(29);  // the last 30 days, as the API's default
      if (!$("gaps-to").value) $("gaps-to").value = today();
      if (!loaded) load();
    }

    function wire() {
      $("gaps-form").addEventListener("submit", (event) => {
        event.preventDefault();
        load().then(() => say($("gaps-summary").textContent));
      });
    }

    return { open, wire };
  })();

  // --- start ---------------------------------------------------------------------------------------

  function deny(text) {
    $("loading").hidden = true;
    $("denied-text").textContent = text;
    $("denied").hidden = false;
  }

  async function start() {
    try {
      me = (await api("GET", "/api/auth/me")).account;
    } catch (err) {
      if (err.status === 401) { location.assign("/login?next=/editor"); return; }
      deny(err.message);
      return;
    }
    $("who-name").textContent = me.display_name || me.username;
    $("logout").addEventListener("click", async () => {
      try { await api("POST", "/api/auth/logout"); } catch (err) { /* the session ends anyway */ }
      location.assign("/login?next=/editor");
    });
    const roles = me.roles || [];
    $("dashboard-link").hidden = !["supervisor", "leader", "admin"].some((r) => roles.includes(r));
    readOnly = !roles.includes("editor") && !roles.includes("admin") && roles.includes("supervisor");
    if (readOnly) {
      // Supervisors read the knowledge gaps (the same API the dashboard uses); editing is not theirs.
      document.querySelectorAll("#editor-nav a").forEach((a) => {
        if (a.dataset.view !== "gaps") a.parentElement.hidden = true;
      });
      $("readonly-note").hidden = false;
      gaps.wire();
      $("loading").hidden = true;
      $("editor-nav").hidden = false;
      show(parseHash(), false);
      return;
    }
    if (!roles.includes("editor") && !roles.includes("admin")) {
      deny("您的账号（" + me.username + "）没有知识库编辑权限。知识库编辑工作台只对“知识库编辑”角色开放，" +
        "如需使用，请联系系统管理员开通。帮办人员请使用帮办工作台（/console）。");
      return;
    }
    try {
      meta = { ...meta, ...(await call("GET", "/api/kb/meta")) };
    } catch (err) {
      if (err.status === 403) { deny(err.message); return; }
      say(err.message, true);
    }
    fillSelect($("f-category"), meta.categories || [], null, true);
    fillSelect($("f-department"), meta.departments || [], null, true);
    fillSelect($("f-status"), meta.statuses || [], STATUS, true);
    fillSelect($("export-status"), meta.statuses || [], STATUS, true);
    fillDatalist($("categories"), meta.categories || []);
    fillDatalist($("departments"), meta.departments || []);
    list.wire();
    form.wire();
    hist.wire();
    importer.wire();
    exporter.wire();
    hitTest.wire();
    drafts.wire();
    gaps.wire();
    $("loading").hidden = true;
    $("editor-nav").hidden = false;
    window.addEventListener("hashchange", onHashChange);
    show(parseHash(), false);
    drafts.refreshCount();
  }

  start();
})();
