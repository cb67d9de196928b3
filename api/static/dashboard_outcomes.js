// The dashboard's 免申即享与政策推送 section (GET /api/worklists/outcomes): per policy and per
// department, the enterprises qualifying, confirmed by the department, confirmed by the
// enterprise (一键确认), granted, declined and notified; per policy the median hours from
// publishing to notification and from the enterprise's confirmation to the grant.
import { hours } from "./entitlement_text.js";
import { $, el } from "./widgets.js";
import { call, say } from "./dashboard_shared.js";

const COUNTS = [["qualifying", "符合"], ["confirmed", "已确认"], ["accepted", "企业确认"],
  ["granted", "已兑现"], ["declined", "不予确认"], ["notified", "已通知"]];

function headRow(first, extra) {
  const row = el("tr");
  [first, ...COUNTS.map(([, label]) => label), ...extra].forEach((text, i) => {
    const th = el("th", i ? "num" : "", text);
    th.scope = "col";
    row.appendChild(th);
  });
  return row;
}

function bodyRow(name, counts, extra) {
  const row = el("tr");
  const th = el("th", "", name);
  th.scope = "row";
  row.appendChild(th);
  COUNTS.forEach(([key]) => row.appendChild(el("td", "num", String(counts[key] ?? 0))));
  extra.forEach((text) => row.appendChild(el("td", "num", text)));
  return row;
}

async function load() {
  const data = await call("GET", "/api/worklists/outcomes");
  const policies = data.policies || [];
  $("outcome-policy-head").replaceChildren(headRow("政策", ["发布→通知（中位）", "企业确认→兑现（中位）"]));
  $("outcome-policy-rows").replaceChildren(...policies.map((p) => bodyRow(
    p.policy_id + (p.department ? "（" + p.department + "）" : ""), p,
    [hours(p.publish_to_notify_median_s), hours(p.accept_to_grant_median_s)])));
  const departments = Object.entries(data.departments || {});
  $("outcome-dept-head").replaceChildren(headRow("部门", []));
  $("outcome-dept-rows").replaceChildren(...departments.map(([name, c]) => bodyRow(name, c, [])));
  $("outcomes-empty").hidden = policies.length > 0;
}

export const outcomes = {
  load,
  wire() {
    $("outcomes-refresh").addEventListener("click", () => load().then(
      () => say("免申即享与政策推送已刷新"), (err) => say(err.message, true)));
  },
};
