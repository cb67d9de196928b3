// What the pages say about 免申即享 and 政策推送 (我的政策, the console's 免申即享待办, the
// dashboard's outcomes): a work item's state, why it qualifies, a USCC masked, hours. Pure
// functions, no DOM: tested under Node (tests/js/entitlement_text.test.js).
import { factText } from "./format.js";

// A work item's state, as staff read it (entitlements.models: the item's life).
export const WORK_STATUS = {
  pending: "待审核", confirmed: "已确认，待企业确认", declined: "不予确认",
  accepted: "企业已确认，待兑现", granted: "已兑现",
};

// The same state as the enterprise reads it on 我的政策.
export const MY_STATUS = {
  confirmed: "待您确认", accepted: "已确认，等待兑现", granted: "已兑现",
};

export const NOTIFY_KIND = { eligible: "符合政策", possible: "可能符合，需补充信息", mianshen: "免申即享" };
export const NOTIFY_STATUS = {
  pending: "待发送", sent: "已发送", failed: "发送失败，将重试", skipped_opted_out: "已退订，未发送",
};

// A USCC as staff lists show it: the first 8 and the last 5 characters (91310113*****1234X);
// anything that is not 18 characters long keeps only its first 4.
export function maskUscc(uscc) {
  const code = String(uscc || "");
  if (code.length === 18) return code.slice(0, 8) + "*****" + code.slice(13);
  return code.slice(0, 4) + "*".repeat(Math.max(code.length - 4, 0));
}

// A work item's why in lines, one per fact the policy tests:
// 年应纳税所得额 = 120万元（税务，2026-11-01）. ``fields`` maps a field's name to the field
// dictionary's entry (label, unit); a field it does not know is shown by its name.
export function whyLines(why, fields = {}) {
  const facts = (why && why.facts) || {};
  const sources = (why && why.sources) || {};
  return Object.keys(facts).map((name) => {
    const field = fields[name] || {};
    const source = sources[name];
    const where = source ? "（" + [source.source, source.as_of].filter(Boolean).join("，") + "）" : "";
    return (field.label || name) + " = " + factText({ value: facts[name], unit: field.unit }) + where;
  });
}

// A duration in hours with one decimal: 3.5小时; 不可用 when nothing was measured.
export function hours(seconds) {
  if (seconds === null || seconds === undefined) return "不可用";
  return (seconds / 3600).toFixed(1) + "小时";
}

// A policy's title from what 我的政策 already lists (the notified list carries ids only).
export function titlesOf(mine) {
  const titles = {};
  ["eligible", "possible", "work_items"].forEach((key) => {
    ((mine && mine[key]) || []).forEach((p) => {
      titles[key === "work_items" ? p.policy_id : p.id] = p.title;
    });
  });
  return titles;
}
