// A policy's condition tree read back in one Chinese sentence, as the editor builds it, and the
// builder's operators in Chinese. Pure functions, no DOM: unit-tested under Node
// (tests/js/policy_sentence.test.js). The tree is the API's JSON: {"all": [...]}, {"any": [...]},
// {"not": {...}}, {"at_least": {"k", "of": [...]}} or an atom {"field", "op", "value"}; the
// fields are GET /api/policy-fields' list (name, type, label, unit, choices).

// The operators as the builder offers them, in Chinese.
export const OPS = {
  eq: "等于", ne: "不等于", in: "属于", not_in: "不属于", lt: "低于", le: "不超过", gt: "超过",
  ge: "不低于", between: "介于", is_true: "是", is_false: "否", has_prefix: "代码开头为",
};

// Dates read better as earlier and later.
const DATE_OPS = { lt: "早于", le: "不晚于", gt: "晚于", ge: "不早于" };

// GB/T 4754-2017's sections (门类), for the industry-code picker and the sentence.
export const INDUSTRY_SECTIONS = {
  A: "农、林、牧、渔业", B: "采矿业", C: "制造业", D: "电力、热力、燃气及水生产和供应业", E: "建筑业",
  F: "批发和零售业", G: "交通运输、仓储和邮政业", H: "住宿和餐饮业", I: "信息传输、软件和信息技术服务业",
  J: "金融业", K: "房地产业", L: "租赁和商务服务业", M: "科学研究和技术服务业",
  N: "水利、环境和公共设施管理业", O: "居民服务、修理和其他服务业", P: "教育", Q: "卫生和社会工作",
  R: "文化、体育和娱乐业", S: "公共管理、社会保障和社会组织", T: "国际组织",
};

// A code as the sentence shows it: a section with its name, C（制造业）.
export function codeShown(code) {
  const text = String(code);
  return INDUSTRY_SECTIONS[text] ? text + "（" + INDUSTRY_SECTIONS[text] + "）" : text;
}

export const GROUPS = { all: "全部满足", any: "任一满足", at_least: "至少满足 k 项" };

// The operators that make sense for a field of ``type``.
export function opsFor(type) {
  if (type === "boolean") return ["is_true", "is_false"];
  if (type === "number" || type === "integer" || type === "date") {
    return ["ge", "gt", "le", "lt", "between", "eq", "ne"];
  }
  if (type === "code") return ["has_prefix", "in", "not_in", "eq", "ne"];
  return ["eq", "ne", "in", "not_in"];  // choice, text
}

// What the value input of ``op`` holds: nothing, one value, two (介于), or a list.
export function valueKind(op) {
  if (op === "is_true" || op === "is_false") return "none";
  if (op === "between") return "pair";
  if (op === "in" || op === "not_in" || op === "has_prefix") return "list";
  return "one";
}

// A list typed by the editor: one value per 、 , ， ; ； or space.
export function splitList(text) {
  return String(text || "").split(/[、,，;；\s]+/).map((v) => v.trim()).filter(Boolean);
}

function byName(fields) {
  const out = {};
  (fields || []).forEach((f) => { out[f.name] = f; });
  return out;
}

function shown(value) {
  if (value === null || value === undefined || value === "") return "…";
  return String(value);
}

function isEmpty(value) {
  return value === null || value === undefined || value === "" ||
    (Array.isArray(value) && value.length === 0);
}

// One atom: 从业人数不超过300人, 成立日期不早于2020-01-01, 行业代码开头为C、I65.
export function atomSentence(atom, fields) {
  const f = byName(fields)[atom.field];
  if (!atom.field) return "（未选择字段）";
  const label = f ? f.label : atom.field;
  const unit = f && f.unit ? f.unit : "";
  const op = atom.op;
  if (!op) return label + "（未选择条件）";
  if (op === "is_true") return label + "为“是”";
  if (op === "is_false") return label + "为“否”";
  const value = atom.value;
  if (op === "between") {
    const [low, high] = Array.isArray(value) ? value : [];
    return label + "介于" + shown(low) + unit + "至" + shown(high) + unit + "之间（含两端）";
  }
  if (op === "in" || op === "not_in" || op === "has_prefix") {
    const values = isEmpty(value) ? [] : (Array.isArray(value) ? value : [value]);
    const list = values.length ? values.map(f && f.type === "code" ? codeShown : String).join("、") : "…";
    if (op === "has_prefix") return label + "代码开头为" + list;
    return label + (op === "in" ? "属于" : "不属于") + list;
  }
  const word = f && f.type === "date" && DATE_OPS[op] ? DATE_OPS[op] :
    { eq: "为", ne: "不为", lt: "低于", le: "不超过", gt: "超过", ge: "不低于" }[op] || OPS[op] || op;
  return label + word + shown(value) + (isEmpty(value) ? "" : unit);
}

function groupKey(node) {
  if (!node || typeof node !== "object") return null;
  if ("field" in node) return "atom";
  return ["all", "any", "not", "at_least"].find((k) => k in node) || null;
}

function parts(node, key) {
  if (key === "at_least") return (node.at_least && node.at_least.of) || [];
  return node[key] || [];
}

// A node inside another: a group of several parts goes in parentheses.
function inner(node, fields) {
  const key = groupKey(node);
  const text = nodeSentence(node, fields);
  const many = (key === "all" || key === "any" || key === "at_least") && parts(node, key).length > 1;
  return many ? "（" + text + "）" : text;
}

// Any node, without the sentence's frame.
export function nodeSentence(node, fields) {
  const key = groupKey(node);
  if (key === null) return "（空条件）";
  if (key === "atom") return atomSentence(node, fields);
  if (key === "not") return "不属于“" + nodeSentence(node.not, fields) + "”的情形";
  const list = parts(node, key);
  if (list.length === 0) return "（空条件组）";
  if (key === "at_least") {
    const k = node.at_least.k;
    return "以下" + list.length + "项中至少满足" + shown(k) + "项：" +
      list.map((p) => inner(p, fields)).join("；");
  }
  if (list.length === 1) return nodeSentence(list[0], fields);
  return list.map((p) => inner(p, fields)).join(key === "all" ? "，且" : "，或");
}

// The whole condition in one sentence: 符合条件：从业人数不超过300人，且有效期内高新技术企业为“是”。
export function conditionSentence(tree, fields) {
  if (!tree || groupKey(tree) === null ||
      (groupKey(tree) !== "atom" && groupKey(tree) !== "not" && parts(tree, groupKey(tree)).length === 0)) {
    return "未设置条件：所有企业都符合。";
  }
  return "符合条件：" + nodeSentence(tree, fields) + "。";
}
