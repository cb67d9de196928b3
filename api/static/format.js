// What the pages say about the data they get: times, days, durations, rates against their
// targets, field values, the portal's ticket banner. Pure functions, no DOM: they import under
// Node too, where tests/js/ tests them (node --test tests/js/).

// --- times and days ------------------------------------------------------------------------------

// A wait in words: 不到1分钟, 约3分钟.
export function formatWait(seconds) {
  if (seconds === undefined || seconds === null) return "";
  if (seconds < 60) return "不到1分钟";
  return "约" + Math.round(seconds / 60) + "分钟";
}

// The time of day (HH:MM) of an ISO time, in the browser's zone.
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
}

// How long something has waited: 45秒, 12分, 2时5分; "-" for nothing.
export function formatAge(seconds) {
  if (!seconds) return "-";
  if (seconds < 60) return seconds + "秒";
  if (seconds < 3600) return Math.floor(seconds / 60) + "分";
  return Math.floor(seconds / 3600) + "时" + Math.floor((seconds % 3600) / 60) + "分";
}

// YYYY-MM-DD HH:MM in the browser's zone (the editor's lists and history); what is not a time
// is shown as it came.
export function formatDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
    pad(d.getHours()) + ":" + pad(d.getMinutes());
}

// YYYY-MM-DD (and HH:MM unless ``withTime`` is false) in ``timeZone``, the centre's.
export function zonedDateTime(iso, timeZone, withTime) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  const opts = { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hourCycle: "h23" };
  if (withTime !== false) { opts.hour = "2-digit"; opts.minute = "2-digit"; }
  return d.toLocaleString("zh-CN", opts).replace(/\//g, "-");
}

// A deadline is the exclusive midnight after its last day: shown as that day, 24:00.
export function deadline(iso, timeZone) {
  if (!iso) return "";
  return zonedDateTime(new Date(new Date(iso).getTime() - 1).toISOString(), timeZone, false) +
    " 24:00前";
}

// The calendar day in ``timeZone`` ``daysBefore`` days before ``now``, as YYYY-MM-DD: the
// centre's days are the API's, whatever the browser's zone.
export function centreDay(daysBefore = 0, timeZone = "Asia/Shanghai", now = new Date()) {
  const today = now.toLocaleDateString("en-CA", { timeZone });
  const day = new Date(today + "T00:00:00Z");
  day.setUTCDate(day.getUTCDate() - daysBefore);
  return day.toISOString().slice(0, 10);
}

// --- rates and durations -------------------------------------------------------------------------

// A rate as the pages show it: one decimal, or 不可用 when nothing was counted (never 0%).
export function pct(value) {
  return value === null || value === undefined ? "不可用" : (value * 100).toFixed(1) + "%";
}

export function fraction(rate) {
  return rate ? rate.numerator + " / " + rate.denominator : "";
}

export function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "不可用";
  if (seconds < 60) return Math.round(seconds) + "秒";
  return (seconds / 60).toFixed(1) + "分钟";
}

// A target line ({value, direction}) in words: 目标 ≥ 90%, 目标 ≤ 5%.
export function targetText(target) {
  if (!target) return "";
  return "目标 " + (target.direction === "at_most" ? "≤ " : "≥ ") +
    Math.round(target.value * 100) + "%";
}

// A rate against its target: 达标 (good), 未达标 (bad), or no verdict when nothing was counted;
// null without a target.
export function verdictOf(target, value) {
  if (!target) return null;
  if (value === null || value === undefined) return { text: "无法判断（不可用）", kind: "" };
  const ok = target.direction === "at_most" ? value <= target.value : value >= target.value;
  return ok ? { text: "达标", kind: "good" } : { text: "未达标", kind: "bad" };
}

// --- text ----------------------------------------------------------------------------------------

const URL_RE = /(https?:\/\/[^\s<>"'，。；、）)]+)/g;

// A text cut into plain parts and http(s) links, for widgets.richText, which puts each in as
// text (never as markup): [{text}, {text, link: true}, …]. Nothing else becomes a link.
export function splitLinks(text) {
  return String(text || "").split(URL_RE)
    .map((part, i) => ({ text: part, link: i % 2 === 1 }))
    .filter((part) => part.text);
}

// A field's value as the editor's diff and comparison show it: 是/否, lists one per line,
// （空） for nothing, a status by its name in ``statusNames`` when the field is ``status``.
export function shownValue(value, field, statusNames = {}) {
  if (field === "status" && statusNames[value]) return statusNames[value];
  if (value === null || value === undefined || value === "") return "（空）";
  if (Array.isArray(value)) return value.length ? value.join("\n") : "（空）";
  if (value === true) return "是";
  if (value === false) return "否";
  return String(value);
}

// A page's location hash (#view/arg) as {view, arg}; a view not in ``views`` is the first.
export function parseViewHash(hash, views) {
  const raw = String(hash || "").replace(/^#/, "");
  const slash = raw.indexOf("/");
  const view = slash < 0 ? raw : raw.slice(0, slash);
  let arg = slash < 0 ? "" : raw.slice(slash + 1);
  try { arg = decodeURIComponent(arg); } catch { arg = ""; }
  return { view: views.includes(view) ? view : views[0], arg };
}

// --- the portal's ticket banner ------------------------------------------------------------------

// What the portal's banner says of the user's ticket: the queue, a booked 12345 call-back or
// the helper serving them; "" for none.
export function describeTicket(ticket) {
  if (!ticket) return "";
  const waiting = ticket.status === "queued" || ticket.status === "transferred";
  if (ticket.channel === "hotline_12345") {
    if (waiting) {
      return "已为您预约12345热线回电（" + (ticket.department || "综合窗口") +
        "），工作人员将在服务时间内拨打您留下的电话。";
    }
    return "12345热线工作人员正在为您服务。";
  }
  if (waiting) {
    const pos = ticket.queue_position;
    let text = "正在为您转接人工帮办（" + (ticket.department || "综合窗口") + "）";
    if (pos === 1) text += "，您是下一位";
    else if (pos) text += "，您前面还有 " + (pos - 1) + " 位";
    if (ticket.estimated_wait_s !== undefined && ticket.estimated_wait_s !== null) {
      text += "，预计等待" + formatWait(ticket.estimated_wait_s);
    }
    return text + "。请不要关闭页面。";
  }
  if (ticket.status === "claimed" || ticket.status === "in_conversation") {
    return "人工帮办" + (ticket.helper_name ? "「" + ticket.helper_name + "」" : "") + "正在为您服务。";
  }
  return "";
}

const CALL_STATUS = {
  requested: "已预约，等待拨打", scheduled: "已预约，将在服务时间内拨打", dialling: "正在拨打",
  ringing: "正在呼叫", answered: "已接通", three_way_connected: "三方通话中", completed: "回电已完成",
  no_answer: "未接通，稍后重拨", unreachable: "多次未接通", failed: "呼叫失败", cancelled: "已取消",
};

// The state of a 留言's 12345 call-back, as its answer shows it.
export function callbackLine(callback) {
  return "12345回电：" + (CALL_STATUS[callback.call_status] || callback.call_status || "已预约");
}

// --- 政策体检 in the console ---------------------------------------------------------------------

function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? String(n) : String(value);
}

// A fact the user gave, as the context pack shows it: 25人, 300–1000人, 1000人及以上, 是/否,
// 2020-03-15, 宝山区; a declined one as 不知道/跳过. ``fact``: {value, unit, type, declined}.
export function factText(fact) {
  if (!fact) return "—";
  if (fact.declined) return "不知道/跳过";
  const { value } = fact;
  const unit = fact.unit || "";
  if (value === null || value === undefined || value === "") return "—";
  if (value === true) return "是";
  if (value === false) return "否";
  if (typeof value === "object") {
    const low = value.gte ?? value.gt;
    const high = value.lt ?? value.lte;
    if (low !== undefined && high !== undefined) return num(low) + "–" + num(high) + unit;
    if (low !== undefined) return num(low) + unit + (value.gt !== undefined ? "以上" : "及以上");
    if (high !== undefined) return num(high) + unit + (value.lte !== undefined ? "及以下" : "以下");
    return "—";
  }
  return (typeof value === "number" ? num(value) : String(value)) + unit;
}

// The check-up's results in one line: 已确定符合 2 项 · 可能符合 3 项 · 不符合 5 项.
export function checkupLine(check) {
  const n = (key) => ((check && check[key]) || []).length;
  return "已确定符合 " + n("eligible") + " 项 · 可能符合 " + n("possible") + " 项 · 不符合 " +
    n("ineligible") + " 项";
}
