// The supervisors' dashboard: the rates against their target lines, trends by day, breakdowns,
// the 差评 work orders (review and rectification, with their 1、5、15 timers), the top knowledge
// gaps, the tickets and 差评 clustered by meaning, and the outcomes of 免申即享 and 政策推送
// (dashboard_outcomes.js). All data comes from the JSON API and goes
// in with textContent (widgets.el). Charts are drawn by Chart.js when the gateway serves it
// (/vendor/chart.umd.min.js); without it every chart's table is shown instead. This module
// chooses the window of days and starts the sections (dashboard_*.js).
import { api, whoAmI } from "./api.js";
import { $, el, showDenied, today } from "./widgets.js";
import { badQueue } from "./dashboard_bad.js";
import { clusters, gaps } from "./dashboard_clusters.js";
import { outcomes } from "./dashboard_outcomes.js";
import { breakdown, rates, trend } from "./dashboard_rates.js";
import { call, say, state, windowQuery } from "./dashboard_shared.js";

// Days are the centre's, whatever the browser's zone: as the API counts them.
const daysAgo = today;

// --- the window and start ----------------------------------------------------------------------

async function loadWindow() {
  const from = $("from").value;
  const to = $("to").value;
  if (!from || !to) { say("请填写开始日期和结束日期。", true); return; }
  if (from > to) { say("开始日期不能晚于结束日期。", true); $("from").focus(); return; }
  state.range = { from, to };
  $("export-xlsx").href = "/api/reports/export?" + windowQuery() + "&format=xlsx";
  $("export-csv").href = "/api/reports/export?" + windowQuery() + "&format=csv";
  say("正在统计 " + from + " 至 " + to + " …");
  const results = await Promise.allSettled([rates.load(), trend.load(), breakdown.load(),
    gaps.load(), clusters.load()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) say("部分数据载入失败：" + failed.reason.message, true);
  else say("已更新：" + from + " 至 " + to);
}

function otherPages(can) {
  const links = [];
  if (can.claim_tickets) links.push(["/console", "帮办工作台"]);
  if (can.read_kb_gaps) links.push(["/editor", "知识库工作台"]);
  if (can.read_register) links.push(["/register", "企业档案"]);
  $("other-pages").replaceChildren(...links.map(([href, text]) => {
    const a = el("a", "", text);
    a.href = href;
    return a;
  }));
}

async function start() {
  let me;
  try {
    state.me = await whoAmI();
    me = state.me.account;
  } catch (err) {
    if (err.status === 401) { location.assign("/login?next=/dashboard"); return; }
    showDenied(err.message);
    return;
  }
  $("who-name").textContent = me.display_name || me.username;
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/auth/logout"); } catch { /* the session ends anyway */ }
    location.assign("/login?next=/dashboard");
  });
  otherPages(state.me.can);
  if (!state.me.can.read_reports) {
    showDenied("您的账号（" + me.username + "）没有督导看板权限。督导看板只对督导、部门领导开放，" +
      "如需使用，请联系系统管理员开通。帮办人员请使用帮办工作台（/console），知识库编辑请使用知识库编辑工作台（/editor）。");
    return;
  }
  try {
    state.targets = Object.fromEntries(((await call("GET", "/api/reports/targets")).targets || [])
      .map((t) => [t.metric, t]));
  } catch (err) {
    if (err.status === 403) { showDenied(err.message); return; }
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
  outcomes.wire();
  badQueue.load().catch((err) => say(err.message, true));
  outcomes.load().catch((err) => say(err.message, true));
  await loadWindow();
}

start();
