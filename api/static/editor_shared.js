// What the editor's views share: the names of states, fields and actions, the signed-in
// account and the knowledge base's categories and departments, the status line, and small
// builders of cells, links and selects.
import { pageApi } from "./api.js";
import * as format from "./format.js";
import { el, mark, statusLine } from "./widgets.js";

export const STATUS = { draft: "草稿", published: "已发布", archived: "已归档" };
export const REVIEW = { unreviewed: "未核对", stale: "超期", current: "已核对" };
export const DECISIONS = { answer: "回答", suggest: "推荐", abstain: "不回答" };
export const REASONS = { abstain: "未回答", suggest: "只给推荐", unhelpful: "没帮助", handoff: "转人工" };
export const MATCH = { meaning: "按含义", words: "按关键词", both: "含义+关键词" };
export const FIELD_LABELS = {
  id: "条目编号", question: "问题", similar_questions: "相似问法", answer: "答案", category: "分类",
  department: "部门", source: "来源", source_url: "来源链接", effective_from: "生效日期",
  expires_on: "失效日期", long_term: "长期有效", reviewed_on: "最近核对日期", reviewed_by: "核对人",
  tags: "标签", policy_ids: "关联政策", status: "状态", version: "版本",
};
export const ACTIONS = {
  create: "新建", update: "修改", publish: "发布", archive: "下线/归档", unpublish: "撤回为草稿",
  rollback: "回滚", import: "导入", propose: "帮办提议", accept: "采纳提议", accept_draft: "采纳提议",
  reject: "不采纳", seed: "初始导入",
};
export const FEATURES = {
  question: "与标准问法的相似度", passage: "与问答整体的相似度", margin: "领先第二名的分差",
  coverage: "关键词覆盖（问答，含口语映射）", coverage_q: "关键词覆盖（标准问法）",
  missing: "条目缺少的最关键词（越高越可能答非所问）",
};

export const state = {
  me: null,        // the account (GET /api/auth/me)
  meta: { categories: [], departments: [], statuses: ["draft", "published", "archived"] },
  readOnly: false,  // a supervisor: the knowledge gaps only, nothing to change
};

export const say = statusLine("status");
export const call = pageApi("/editor");
export const enc = encodeURIComponent;

export function errorDetails(err) {
  const body = err.body || {};
  return (body.error && body.error.errors) || body.errors || [];
}

// A field's value as the diff and the comparison show it (a status by its name).
export function shownValue(value, field) { return format.shownValue(value, field, STATUS); }

export function score(value) {
  return value === undefined || value === null ? "—" : Number(value).toFixed(3);
}

export function cell(row, text, className) {
  const td = el("td", className || "", text);
  row.appendChild(td);
  return td;
}

export function editLink(id, text) {
  const a = el("a", "", text || id);
  a.href = "#edit/" + enc(id);
  return a;
}

export function reviewMark(entry) {
  const review = entry.review_state;
  if (review === "current") return mark("已核对 " + (entry.reviewed_on || ""), "good");
  if (review === "stale") return mark("超期（" + (entry.reviewed_on || "") + "核对）", "bad");
  return mark("未核对", "warn");
}

export function fillSelect(select, values, labels, keepFirst) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren();
  if (first) select.appendChild(first);
  values.forEach((v) => {
    const option = el("option", "", (labels && labels[v]) || v);
    option.value = v;
    select.appendChild(option);
  });
}

export function fillDatalist(list, values) {
  list.replaceChildren();
  values.forEach((v) => { const o = el("option"); o.value = v; list.appendChild(o); });
}

