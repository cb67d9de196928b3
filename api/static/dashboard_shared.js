// What the dashboard's sections share: the figures and their names, the signed-in account,
// the targets and the window of days, the status line, and small helpers.
import { pageApi } from "./api.js";
import * as format from "./format.js";
import { statusLine, timeZone } from "./widgets.js";

// Every figure of GET /api/reports/summary, in the order shown, with what it counts.
export const RATES = [
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
export const DURATIONS = [
  ["first_response_s", "首次人工响应（服务时间）"],
  ["queue_wait_s", "排队等待（服务时间）"],
  ["handling_s", "处理时长"],
];
export const LABELS = Object.fromEntries([...RATES, ...DURATIONS].map(([k, label]) => [k, label]));
export const BREAKDOWN_RATES = ["response_rate", "resolution_rate", "satisfaction_rate", "unfounded_rate",
  "first_contact_resolution_rate", "bot_resolution_rate"];
export const BY_LABELS = { department: "部门", channel: "渠道", helper: "帮办人员", category: "知识库分类", day: "日期" };
export const CHANNELS = { online_helper: "在线帮办", hotline_12345: "12345三方通话", bot: "小宝（智能客服）" };
export const REASONS = { abstain: "未回答", suggest: "只给推荐", unhelpful: "没帮助", handoff: "转人工" };

export const state = {
  me: null,       // GET /api/auth/me: {account, can}
  targets: {},    // metric -> {value, direction, label}
  range: { from: "", to: "" },
};

export const say = statusLine("status");
export const call = pageApi("/dashboard");
export const enc = encodeURIComponent;

// Times and deadlines in the centre's zone, as the API counts them.
export function shanghai(iso, withTime) { return format.zonedDateTime(iso, timeZone(), withTime); }
export function deadline(iso) { return format.deadline(iso, timeZone()); }

export function targetText(metric) { return format.targetText(state.targets[metric]); }
export function verdictOf(metric, value) { return format.verdictOf(state.targets[metric], value); }

export function keyLabel(by, key) {
  if (by === "channel") return CHANNELS[key] || key;
  return key;
}

export function windowQuery() {
  return "from=" + enc(state.range.from) + "&to=" + enc(state.range.to);
}

// Answers that arrive after a newer request for the same section are dropped.
export function latestOnly() {
  let generation = 0;
  return () => {
    const mine = ++generation;
    return () => mine === generation;
  };
}

