// The entry list: search (by meaning and keywords), filters, pages.
import { $, el, mark } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { MATCH, STATUS, call, cell, editLink, reviewMark, say } from "./editor_shared.js";

export const list = (() => {
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

