// What users asked that went unanswered (the knowledge gaps, for supervisors and editors) and
// the tickets and 差评 grouped by meaning (工单聚类分析).
import { $, el, mark } from "./widgets.js";
import { REASONS, call, latestOnly, shanghai, windowQuery } from "./dashboard_shared.js";

// --- 5. the top knowledge gaps ------------------------------------------------------------------

export const gaps = (() => {
  const fresh = latestOnly();
  const TOP = 5;

  function render(c) {
    const item = el("li");
    item.appendChild(el("h3", "", c.size + " 个问题：" + (c.examples[0] || "")));
    const reasons = el("div", "reasons");
    Object.entries(c.reasons || {}).forEach(([k, n]) => { if (n) reasons.appendChild(mark((REASONS[k] || k) + " " + n, "warn")); });
    item.appendChild(reasons);
    if ((c.examples || []).length > 1) {
      item.appendChild(el("p", "subtle", "其他问法：" + c.examples.slice(1).join("；")));
    }
    item.appendChild(el("p", "item-meta", "最近 " + shanghai(c.last_seen)));
    return item;
  }

  async function load() {
    const current = fresh();
    $("gaps-summary").textContent = "正在分析…";
    let data;
    try {
      data = await call("GET", "/api/kb/gaps?" + windowQuery());
    } catch (err) {
      if (!current()) return;
      $("gaps-list").replaceChildren();
      $("gaps-summary").textContent = err.status === 403 ?
        "知识缺口只对督导和知识库编辑开放。" : "知识缺口载入失败：" + err.message;
      return;
    }
    if (!current()) return;
    const clusters = data.clusters || [];
    $("gaps-list").replaceChildren(...clusters.slice(0, TOP).map(render));
    $("gaps-summary").textContent = (data.questions || 0) + " 个没答好的问题，归为 " + clusters.length + " 组" +
      (clusters.length > TOP ? "，这里显示最多的 " + TOP + " 组" : "") + (data.note ? "。" + data.note : "");
  }

  return { load };
})();

// --- 6. 工单聚类分析 ----------------------------------------------------------------------------

export const clusters = (() => {
  const fresh = latestOnly();

  function render(c) {
    const tr = el("tr");
    tr.dataset.clusterId = c.id;
    tr.appendChild(el("th", "cell-text", c.examples[0] || "")).setAttribute("scope", "row");
    tr.appendChild(el("td", "num", String(c.size)));
    tr.appendChild(el("td", "num", String(c.tickets)));
    tr.appendChild(el("td", "num", String(c.bad_ratings)));
    const byDept = Object.entries(c.departments || {});
    const bot = c.size - byDept.reduce((sum, [, n]) => sum + n, 0);  // the bot's own 差评
    const depts = byDept.map(([d, n]) => d + " " + n);
    if (bot > 0) depts.push("小宝（智能客服） " + bot);
    tr.appendChild(el("td", "cell-text", depts.join("、")));
    tr.appendChild(el("td", "nowrap", shanghai(c.first_seen) + " / " + shanghai(c.last_seen)));
    tr.appendChild(el("td", "cell-text", (c.examples || []).slice(1).join("；") || "—"));
    return tr;
  }

  async function load() {
    const current = fresh();
    $("clusters-summary").textContent = "正在归类…";
    const data = await call("GET", "/api/reports/clusters?" + windowQuery());
    if (!current()) return;
    const rows = data.clusters || [];
    $("cluster-rows").replaceChildren(...rows.map(render));
    $("clusters-empty").hidden = rows.length > 0;
    const recurring = rows.filter((c) => c.size > 1).length;
    $("clusters-summary").textContent = (data.tickets || 0) + " 张工单、" + (data.bad_ratings || 0) +
      " 条差评，归为 " + rows.length + " 类，其中 " + recurring + " 类反复出现" + (data.note ? "。" + data.note : "");
  }

  return { load };
})();

