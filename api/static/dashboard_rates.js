// The dashboard's figures: the rates against their target lines, the trend of one by day
// (a Chart.js chart when the gateway serves it, always a table) and the breakdowns.
import { fraction, minutes, pct } from "./format.js";
import { $, el, mark } from "./widgets.js";
import {
  BREAKDOWN_RATES, BY_LABELS, DURATIONS, LABELS, RATES, call, enc, keyLabel, latestOnly, say,
  state, targetText, verdictOf, windowQuery,
} from "./dashboard_shared.js";

let trendChart = null;

// --- 1. the rates against their targets ---------------------------------------------------------

export const rates = (() => {
  const fresh = latestOnly();

  function kpi(metric, label, explain, rate) {
    const item = el("li", "kpi");
    item.dataset.metric = metric;
    item.appendChild(el("h3", "kpi-label", label));
    const value = el("p", "kpi-value" + (rate && rate.value === null ? " unavailable" : ""),
      pct(rate ? rate.value : null));
    item.appendChild(value);
    item.appendChild(el("p", "kpi-fraction", rate ? "分子/分母 " + fraction(rate) : ""));
    const verdict = verdictOf(metric, rate ? rate.value : null);
    if (verdict) {
      const line = el("p", "kpi-target");
      line.appendChild(document.createTextNode(targetText(metric) + " · "));
      line.appendChild(mark(verdict.text, verdict.kind));
      item.appendChild(line);
      if (verdict.kind) item.classList.add(verdict.kind === "good" ? "met" : "missed");
    }
    item.appendChild(el("p", "kpi-explain", explain));
    return item;
  }

  function render(data) {
    $("kpis").replaceChildren(...RATES.map(([m, label, explain]) => kpi(m, label, explain, data[m])));
    $("duration-rows").replaceChildren(...DURATIONS.map(([m, label]) => {
      const d = data[m] || {};
      const tr = el("tr");
      tr.dataset.metric = m;
      tr.appendChild(el("th", "", label)).setAttribute("scope", "row");
      tr.appendChild(el("td", "num", minutes(d.p50)));
      tr.appendChild(el("td", "num", minutes(d.p90)));
      tr.appendChild(el("td", "num", d.n === undefined ? "" : String(d.n)));
      return tr;
    }));
    const abandoned = data.abandoned_before_service_level;
    $("abandoned").textContent = abandoned === undefined ? "" :
      "服务时限前用户已放弃的转人工：" + abandoned + " 次（不计入响应率，单独列出）";
    $("rates-range").textContent = state.range.from + " 至 " + state.range.to;
  }

  async function load() {
    const current = fresh();
    const data = await call("GET", "/api/reports/summary?" + windowQuery());
    if (!current()) return;
    render(data);
  }

  return { load };
})();

// --- 2. the trend by day ------------------------------------------------------------------------

export const trend = (() => {
  const fresh = latestOnly();
  const chartsAvailable = typeof window.Chart === "function";

  function isDuration(metric) { return DURATIONS.some(([m]) => m === metric); }

  function shown(metric, value) {
    if (value === null || value === undefined) return "不可用";
    return isDuration(metric) ? minutes(value) : pct(value);
  }

  function renderTable(data) {
    const metric = data.metric;
    $("trend-caption").textContent = (LABELS[metric] || metric) + "按日数据" +
      (state.targets[metric] ? "（" + targetText(metric) + "）" : "");
    $("trend-rows").replaceChildren(...(data.points || []).map((p) => {
      const tr = el("tr");
      tr.appendChild(el("th", "", p.day)).setAttribute("scope", "row");
      tr.appendChild(el("td", "num", shown(metric, p.value)));
      tr.appendChild(el("td", "num", isDuration(metric) ? "样本 " + p.denominator :
        p.numerator + " / " + p.denominator));
      return tr;
    }));
  }

  function renderChart(data) {
    const metric = data.metric;
    const points = data.points || [];
    const scale = isDuration(metric) ? 1 / 60 : 100;
    const unit = isDuration(metric) ? "分钟" : "%";
    const datasets = [{
      label: (LABELS[metric] || metric) + "（" + unit + "）",
      data: points.map((p) => (p.value === null || p.value === undefined ? null : +(p.value * scale).toFixed(2))),
      borderColor: "#1d4f91", backgroundColor: "#1d4f91", pointRadius: 3, spanGaps: false,
    }];
    const t = state.targets[metric];
    if (t) {
      datasets.push({
        label: targetText(metric), data: points.map(() => t.value * 100),
        borderColor: "#c8102e", borderDash: [6, 4], pointRadius: 0, fill: false,
      });
    }
    const canvas = $("trend-chart");
    canvas.setAttribute("aria-label", (LABELS[metric] || metric) + "按日趋势图，" + points.length +
      "天" + (t ? "，红色虚线为" + targetText(metric) : "") + "；数值见下方“按日数据表”。");
    if (trendChart) trendChart.destroy();
    trendChart = new window.Chart(canvas, {
      type: "line",
      data: { labels: points.map((p) => p.day.slice(5)), datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, suggestedMax: isDuration(metric) ? undefined : 100,
          title: { display: true, text: unit } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  async function load() {
    const current = fresh();
    const metric = $("trend-metric").value;
    const data = await call("GET", "/api/reports/series?" + windowQuery() + "&metric=" + enc(metric));
    if (!current()) return;
    renderTable(data);
    if (chartsAvailable) renderChart(data);
  }

  function wire() {
    const select = $("trend-metric");
    [...RATES, ...DURATIONS].forEach(([m, label]) => {
      const o = el("option", "", label);
      o.value = m;
      select.appendChild(o);
    });
    select.value = "satisfaction_rate";
    select.addEventListener("change", () => load().then(() => say("已显示" + LABELS[select.value] + "的按日趋势"),
      (err) => say(err.message, true)));
    if (!chartsAvailable) {
      $("trend-chart-box").hidden = true;
      $("chart-note").hidden = false;
      $("trend-details").open = true;
    }
  }

  return { load, wire };
})();

// --- 3. breakdowns ------------------------------------------------------------------------------

export const breakdown = (() => {
  const fresh = latestOnly();

  function render(data) {
    const by = (data.breakdown && data.breakdown.by) || $("breakdown-by").value;
    const rows = (data.breakdown && data.breakdown.rows) || [];
    $("breakdown-caption").textContent = "按" + BY_LABELS[by] + "分项（" + state.range.from + " 至 " + state.range.to + "）";
    const head = [el("th", "", BY_LABELS[by])];
    BREAKDOWN_RATES.forEach((m) => head.push(el("th", "num", LABELS[m])));
    head.forEach((th) => th.setAttribute("scope", "col"));
    $("breakdown-head").replaceChildren(...head);
    $("breakdown-rows").replaceChildren(...rows.map((row) => {
      const tr = el("tr");
      tr.dataset.key = row.key;
      tr.appendChild(el("th", "", keyLabel(by, row.key))).setAttribute("scope", "row");
      BREAKDOWN_RATES.forEach((m) => {
        const rate = row[m] || {};
        const td = el("td", "num", pct(rate.value));
        td.appendChild(el("span", "fraction", "（" + fraction(rate) + "）"));
        tr.appendChild(td);
      });
      return tr;
    }));
    $("breakdown-empty").hidden = rows.length > 0;
  }

  async function load() {
    const current = fresh();
    const by = $("breakdown-by").value;
    const data = await call("GET", "/api/reports/summary?" + windowQuery() + "&by=" + enc(by));
    if (!current()) return;
    render(data);
  }

  function wire() {
    $("breakdown-by").addEventListener("change", () => load().then(
      () => say("已按" + BY_LABELS[$("breakdown-by").value] + "分项"), (err) => say(err.message, true)));
  }

  return { load, wire };
})();

