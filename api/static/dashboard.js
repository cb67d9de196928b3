// The supervisors' dashboard: the rates against their target lines, trends by day, breakdowns,
// the 差评 work orders (review and rectification, with their 1、5、15 timers), the top knowledge
// gaps and the tickets and 差评 clustered by meaning. All data comes from the JSON API and goes
// in with textContent (XB.el). Charts are drawn by Chart.js when the gateway serves it
// (/vendor/chart.umd.min.js); without it every chart's table is shown instead.
"use strict";

(() => {
  const { el, api } = XB;
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // Every figure of GET /api/reports/summary, in the order shown, with what it counts.
  const RATES = [
    ["satisfaction_rate", "满意率", "非常满意、满意、基本满意 ÷ 评价（认定不属实的差评不计）"],
    ["unfounded_rate", "不属实率", "复核为不属实的差评 ÷ 已复核的差评"],
    ["first_contact_resolution_rate", "首办成功率", "一次办结（未转派、7天内无同类重复咨询）÷ 已解决工单"],
    ["response_rate", "响应率", "服务时限内首次人工响应 ÷ 转人工（时限内放弃的不计）"],
    ["resolution_rate", "解决率", "已解决 ÷ 已办结工单"],
    ["bot_resolution_rate", "智能客服解决率", "小宝答复有帮助或无需转人工的会话 ÷ 有提问的会话"],
    ["containment_rate", "自助解答率", "未转人工即得到答复的问题 ÷ 问题"],
    ["active_rating_rate", "主动评价率", "评价 ÷ 办结的服务"],
    ["rectified_in_time_rate", "差评整改率", "按时联系并整改的差评 ÷ 差评"],
    ["follow_up_rate", "回访率", "已回访的差评 ÷ 差评"],
  ];
  const DURATIONS = [
    ["first_response_s", "首次人工响应（服务时间）"],
    ["queue_wait_s", "排队等待（服务时间）"],
    ["handling_s", "处理时长"],
  ];
  const LABELS = Object.fromEntries([...RATES, ...DURATIONS].map(([k, label]) => [k, label]));
  const BREAKDOWN_RATES = ["response_rate", "resolution_rate", "satisfaction_rate", "unfounded_rate",
    "first_contact_resolution_rate", "bot_resolution_rate"];
  const BY_LABELS = { department: "部门", channel: "渠道", helper: "帮办人员", category: "知识库分类", day: "日期" };
  const CHANNELS = { online_helper: "在线帮办", hotline_12345: "12345三方通话", bot: "小宝（智能客服）" };
  const CASE_STATUS = { open: "待联系", contacted: "已联系", fixed: "已整改", followed_up: "已回访", superseded: "已被重新评价取代" };
  const STAGES = [
    ["contacted", "联系用户", "记录联系用户"],
    ["fixed", "整改完成", "记录整改完成"],
    ["followed_up", "回访", "记录回访"],
  ];
  const NEXT_STAGE = { open: "contacted", contacted: "fixed", fixed: "followed_up" };
  const REASONS = { abstain: "未回答", suggest: "只给推荐", unhelpful: "没帮助", handoff: "转人工" };
  const TZ = XB.timeZone();

  let me = null;
  let targets = {};          // metric -> {value, direction, label}
  let range = { from: "", to: "" };
  let trendChart = null;

  // --- small helpers ---------------------------------------------------------------------------

  const say = XB.statusLine("status");
  const call = XB.pageApi("/dashboard");

  // Days are the centre's, whatever the browser's zone: as the API counts them.
  const daysAgo = XB.centreDay;

  // A rate as the page shows it: one decimal, or 不可用 when nothing was counted (never 0%).
  function pct(value) {
    return value === null || value === undefined ? "不可用" : (value * 100).toFixed(1) + "%";
  }

  function fraction(rate) {
    return rate ? rate.numerator + " / " + rate.denominator : "";
  }

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "不可用";
    if (seconds < 60) return Math.round(seconds) + "秒";
    return (seconds / 60).toFixed(1) + "分钟";
  }

  function shanghai(iso, withTime) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    const opts = { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hourCycle: "h23" };
    if (withTime !== false) { opts.hour = "2-digit"; opts.minute = "2-digit"; }
    return d.toLocaleString("zh-CN", opts).replace(/\//g, "-");
  }

  // A deadline is the exclusive midnight after its last day: shown as that day, 24:00.
  function deadline(iso) {
    if (!iso) return "";
    return shanghai(new Date(new Date(iso).getTime() - 1).toISOString(), false) + " 24:00前";
  }

  function targetText(metric) {
    const t = targets[metric];
    if (!t) return "";
    return "目标 " + (t.direction === "at_most" ? "≤ " : "≥ ") + Math.round(t.value * 100) + "%";
  }

  function verdictOf(metric, value) {
    const t = targets[metric];
    if (!t) return null;
    if (value === null || value === undefined) return { text: "无法判断（不可用）", kind: "" };
    const ok = t.direction === "at_most" ? value <= t.value : value >= t.value;
    return ok ? { text: "达标", kind: "good" } : { text: "未达标", kind: "bad" };
  }

  function mark(text, kind) { return el("span", "mark" + (kind ? " " + kind : ""), text); }

  function keyLabel(by, key) {
    if (by === "channel") return CHANNELS[key] || key;
    return key;
  }

  function button(text, className, onClick, label) {
    const b = el("button", className, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function windowQuery() {
    return "from=" + enc(range.from) + "&to=" + enc(range.to);
  }

  // Answers that arrive after a newer request for the same section are dropped.
  function latestOnly() {
    let generation = 0;
    return () => {
      const mine = ++generation;
      return () => mine === generation;
    };
  }

  // --- 1. the rates against their targets ---------------------------------------------------------

  const rates = (() => {
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
      $("rates-range").textContent = range.from + " 至 " + range.to;
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

  const trend = (() => {
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
        (targets[metric] ? "（" + targetText(metric) + "）" : "");
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
      const t = targets[metric];
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

  const breakdown = (() => {
    const fresh = latestOnly();

    function render(data) {
      const by = (data.breakdown && data.breakdown.by) || $("breakdown-by").value;
      const rows = (data.breakdown && data.breakdown.rows) || [];
      $("breakdown-caption").textContent = "按" + BY_LABELS[by] + "分项（" + range.from + " 至 " + range.to + "）";
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

  // --- 4. the 差评 work orders --------------------------------------------------------------------

  const badQueue = (() => {
    const fresh = latestOnly();
    let focusAfter = null;   // the case whose heading gets the focus after a reload

    function timerLine(c, stage, name) {
      const t = (c.timers || {})[stage] || {};
      const li = el("li");
      li.appendChild(el("span", "timer-name", name + "："));
      if (t.due) li.appendChild(document.createTextNode("时限 " + deadline(t.due) + "；"));
      if (t.done_at) {
        li.appendChild(document.createTextNode("已于 " + shanghai(t.done_at) + " 完成"));
        if (t.overdue) li.appendChild(mark("超期完成", "bad"));
      } else if (t.overdue) {
        li.appendChild(mark("已超期，尚未完成", "bad"));
      } else if (c.timers && c.timers.stopped) {
        li.appendChild(document.createTextNode("无需办理"));
      } else {
        li.appendChild(document.createTextNode(t.due ? "尚未完成，未超期" : "尚未回访"));
      }
      return li;
    }

    function reviewForm(c) {
      const form = el("form", "case-form");
      form.setAttribute("aria-label", "复核差评 " + c.id);
      const group = el("fieldset", "field verdicts");
      group.appendChild(el("legend", "", "复核结论"));
      ["属实", "不属实"].forEach((v, i) => {
        const id = "verdict-" + c.id + "-" + i;
        const wrap = el("span", "radio");
        const input = el("input");
        input.type = "radio";
        input.name = "verdict-" + c.id;
        input.id = id;
        input.value = v;
        const label = el("label", "", v);
        label.htmlFor = id;
        wrap.append(input, label);
        group.appendChild(wrap);
      });
      form.appendChild(group);
      const noteId = "review-note-" + c.id;
      const note = noteField(form, noteId, "复核说明（认定不属实须写明理由）");
      const { error, submit } = errorAndSubmit(form, "primary", "提交复核",
        "提交复核：差评 " + c.id);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = form.querySelector("input[type=radio]:checked");
        if (!chosen) { error.textContent = "请选择“属实”或“不属实”。"; return; }
        if (chosen.value === "不属实" && !note.value.trim()) {
          error.textContent = "认定不属实，请写明理由。";
          note.focus();
          return;
        }
        await act(c, "/review", { verdict: chosen.value, note: note.value.trim() }, error, submit,
          "差评 " + c.id + " 已复核为“" + chosen.value + "”");
      });
      return form;
    }

    function rectificationForm(c) {
      const stage = NEXT_STAGE[c.status];
      const [, name, action] = STAGES.find(([s]) => s === stage);
      const form = el("form", "case-form");
      form.setAttribute("aria-label", action + "：差评 " + c.id);
      const noteId = "rect-note-" + c.id;
      const note = noteField(form, noteId, name + "情况");
      let complexity = null;
      if (stage !== "followed_up") {
        const cid = "complexity-" + c.id;
        const cfield = el("div", "field");
        const clabel = el("label", "", "问题复杂度");
        clabel.htmlFor = cid;
        complexity = el("select");
        complexity.id = cid;
        [["simple", "简单（5个工作日内整改）"], ["complex", "复杂（15个工作日内整改）"]].forEach(([v, t]) => {
          const o = el("option", "", t);
          o.value = v;
          complexity.appendChild(o);
        });
        complexity.value = c.complexity || "simple";
        cfield.append(clabel, complexity);
        form.appendChild(cfield);
      }
      const { error, submit } = errorAndSubmit(form, "primary", action,
        action + "：差评 " + c.id);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!note.value.trim()) { error.textContent = "请写明" + name + "的情况。"; note.focus(); return; }
        const body = { stage, note: note.value.trim() };
        if (complexity) body.complexity = complexity.value;
        await act(c, "/rectification", body, error, submit, "差评 " + c.id + "：已" + action);
      });
      return form;
    }

    // A labelled note (textarea) appended to a case form.
    function noteField(form, noteId, labelText) {
      const field = el("div", "field");
      const label = el("label", "", labelText);
      label.htmlFor = noteId;
      const note = el("textarea");
      note.id = noteId;
      note.rows = 2;
      note.maxLength = 2000;
      field.append(label, note);
      form.appendChild(field);
      return note;
    }

    // The form's error line (role=alert) and its submit button, named for the case.
    function errorAndSubmit(form, buttonClass, buttonText, ariaLabel) {
      const error = el("p", "field-error");
      error.setAttribute("role", "alert");
      form.appendChild(error);
      const submit = el("button", buttonClass, buttonText);
      submit.type = "submit";
      submit.setAttribute("aria-label", ariaLabel);
      form.appendChild(submit);
      return { error, submit };
    }

    function overturnForm(c) {
      const form = el("form", "case-form");
      form.setAttribute("aria-label", "推翻不属实认定：差评 " + c.id);
      const noteId = "overturn-note-" + c.id;
      const note = noteField(form, noteId, "推翻理由");
      const { error, submit } = errorAndSubmit(form, "danger", "推翻不属实认定",
        "推翻不属实认定：差评 " + c.id);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!note.value.trim()) { error.textContent = "请写明推翻的理由。"; note.focus(); return; }
        await act(c, "/overturn", { note: note.value.trim() }, error, submit,
          "差评 " + c.id + " 的不属实认定已推翻，重新计入满意率");
      });
      return form;
    }

    async function act(c, path, body, error, submit, done) {
      error.textContent = "";
      submit.disabled = true;
      try {
        await call("POST", "/api/reports/bad-ratings/" + enc(c.id) + path, body);
      } catch (err) {
        submit.disabled = false;
        error.textContent = err.message;
        return;
      }
      focusAfter = c.id;
      await load();
      say(done);
      rates.load().catch(() => {});  // a review changes 满意率 and 不属实率
    }

    function render(c) {
      const item = el("li", "case" + (c.timers && c.timers.late_now ? " late" : ""));
      item.dataset.caseId = c.id;
      const title = "差评 " + c.id + " · " + c.rating + " · " + (c.department || "小宝（智能客服）") +
        " · " + (CASE_STATUS[c.status] || c.status) + (c.timers && c.timers.late_now ? "（已超期）" : "");
      const h = el("h3", "", title);
      h.tabIndex = -1;
      h.id = "case-" + c.id;
      item.appendChild(h);
      item.appendChild(el("p", "case-reason", "原因：" + (c.reason || "（未填写）")));
      const meta = [shanghai(c.opened_at) + " 评价"];
      if (c.ticket_id) meta.push("工单 " + c.ticket_id);
      if (c.handler) meta.push("经办 " + c.handler);
      item.appendChild(el("p", "item-meta", meta.join(" · ")));
      const review = el("p", "case-review");
      if (c.verdict) {
        review.appendChild(document.createTextNode("复核：" + c.verdict + "（" + c.reviewed_by + "，" +
          shanghai(c.reviewed_at) + "）" + (c.review_note ? "：" + c.review_note : "")));
        if (c.overturned) {
          review.appendChild(el("span", "", "；已被 " + c.overturned_by + " 推翻：" + c.overturn_note));
        }
      } else {
        review.appendChild(mark(c.status === "superseded" ? "已被取代，无需复核" : "未复核", c.status === "superseded" ? "" : "warn"));
      }
      item.appendChild(review);
      const timers = el("ul", "timers");
      timers.setAttribute("aria-label", "整改时限：差评 " + c.id);
      timers.appendChild(timerLine(c, "contacted", "1个工作日内联系用户"));
      timers.appendChild(timerLine(c, "fixed", (c.complexity === "complex" ? "15" : "5") + "个工作日内整改完成（" +
        (c.complexity === "complex" ? "复杂" : "简单") + "）"));
      timers.appendChild(timerLine(c, "followed_up", "回访"));
      item.appendChild(timers);
      const actions = el("div", "case-actions");
      if (!c.verdict && c.status !== "superseded" && c.handler !== me.username) actions.appendChild(reviewForm(c));
      const roles = me.roles || [];
      if (c.unfounded && !c.overturned && (roles.includes("leader") || roles.includes("admin"))) {
        actions.appendChild(overturnForm(c));
      }
      if (!c.closed && !c.unfounded && NEXT_STAGE[c.status]) actions.appendChild(rectificationForm(c));
      if (actions.childElementCount) item.appendChild(actions);
      return item;
    }

    async function load() {
      const current = fresh();
      const status = $("bad-status").value;
      const data = await call("GET", "/api/reports/bad-ratings?status=" + enc(status));
      if (!current()) return;
      const cases = data.cases || [];
      $("bad-list").replaceChildren(...cases.map(render));
      $("bad-empty").hidden = cases.length > 0;
      $("bad-count").textContent = String(data.count === undefined ? cases.length : data.count);
      if (focusAfter !== null) {
        const heading = $("case-" + focusAfter);
        (heading || $("h-bad")).focus();
        focusAfter = null;
      }
    }

    function wire() {
      $("bad-status").addEventListener("change", () => load().then(
        () => say("差评工单：" + $("bad-status").selectedOptions[0].textContent + " " + $("bad-count").textContent + " 条"),
        (err) => say(err.message, true)));
      $("bad-refresh").addEventListener("click", () => load().then(() => say("已刷新差评工单"),
        (err) => say(err.message, true)));
    }

    return { load, wire };
  })();

  // --- 5. the top knowledge gaps ------------------------------------------------------------------

  const gaps = (() => {
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

  const clusters = (() => {
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

  // --- the window and start ----------------------------------------------------------------------

  async function loadWindow() {
    const from = $("from").value;
    const to = $("to").value;
    if (!from || !to) { say("请填写开始日期和结束日期。", true); return; }
    if (from > to) { say("开始日期不能晚于结束日期。", true); $("from").focus(); return; }
    range = { from, to };
    $("export-xlsx").href = "/api/reports/export?" + windowQuery() + "&format=xlsx";
    $("export-csv").href = "/api/reports/export?" + windowQuery() + "&format=csv";
    say("正在统计 " + from + " 至 " + to + " …");
    const results = await Promise.allSettled([rates.load(), trend.load(), breakdown.load(),
      gaps.load(), clusters.load()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) say("部分数据载入失败：" + failed.reason.message, true);
    else say("已更新：" + from + " 至 " + to);
  }

  function deny(text) {
    $("loading").hidden = true;
    $("denied-text").textContent = text;
    $("denied").hidden = false;
  }

  function otherPages(roles) {
    const links = [];
    if (roles.includes("helper") || roles.includes("leader") || roles.includes("admin")) links.push(["/console", "帮办工作台"]);
    if (roles.includes("editor") || roles.includes("supervisor") || roles.includes("admin")) links.push(["/editor", "知识库工作台"]);
    $("other-pages").replaceChildren(...links.map(([href, text]) => {
      const a = el("a", "", text);
      a.href = href;
      return a;
    }));
  }

  async function start() {
    try {
      me = (await api("GET", "/api/auth/me")).account;
    } catch (err) {
      if (err.status === 401) { location.assign("/login?next=/dashboard"); return; }
      deny(err.message);
      return;
    }
    $("who-name").textContent = me.display_name || me.username;
    $("logout").addEventListener("click", async () => {
      try { await api("POST", "/api/auth/logout"); } catch (err) { /* the session ends anyway */ }
      location.assign("/login?next=/dashboard");
    });
    const roles = me.roles || [];
    otherPages(roles);
    if (!["supervisor", "leader", "admin"].some((r) => roles.includes(r))) {
      deny("您的账号（" + me.username + "）没有督导看板权限。督导看板只对督导、部门领导开放，" +
        "如需使用，请联系系统管理员开通。帮办人员请使用帮办工作台（/console），知识库编辑请使用知识库编辑工作台（/editor）。");
      return;
    }
    try {
      targets = Object.fromEntries(((await call("GET", "/api/reports/targets")).targets || [])
        .map((t) => [t.metric, t]));
    } catch (err) {
      if (err.status === 403) { deny(err.message); return; }
      say(err.message, true);
    }
    $("from").value = daysAgo(29);
    $("to").value = daysAgo(0);
    trend.wire();
    breakdown.wire();
    badQueue.wire();
    $("range-form").addEventListener("submit", (event) => { event.preventDefault(); loadWindow(); });
    $("last-30").addEventListener("click", () => {
      $("from").value = daysAgo(29);
      $("to").value = daysAgo(0);
      loadWindow();
    });
    $("loading").hidden = true;
    $("board").hidden = false;
    $("dash-nav").hidden = false;
    badQueue.load().catch((err) => say(err.message, true));
    await loadWindow();
  }

  start();
})();
