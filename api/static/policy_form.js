// The 政策体检 page's pure functions (no DOM): a field of the dictionary (GET
// /api/policy-fields) as the control that asks for it, the form's values as the facts and
// declined fields of POST /api/policy-check, and the result in words. Unit-tested under Node
// (tests/js/policy_form.test.js).

// The form's sections, in order; a field not named here (an editor's new one) goes to 其他.
export const SECTIONS = [
  { title: "基本情况", fields: ["district", "industry", "founded_on", "is_individual_business"] },
  { title: "规模与经营", fields: ["employees", "insured_employees", "revenue", "total_assets"] },
  { title: "税务", fields: ["taxable_income", "taxpayer_type", "tax_credit_level"] },
  { title: "科技创新", fields: ["high_tech", "tech_sme", "specialized", "rd_ratio"] },
  { title: "用工", fields: ["layoff_rate", "graduates_hired", "veterans_hired"] },
  { title: "信用", fields: ["serious_dishonesty"] },
];
const OTHER = "其他";
// Quick answers (buttons beside the question) only while they stay few enough to read.
const MAX_QUICK = 16;
export const EXACT = "exact";  // the banded select's "填写准确数字" option

// The fields the form asks for, in sections: derived ones (企业规模, 成立年限) are computed from
// the others, never asked.
export function sections(fields) {
  const asked = fields.filter((f) => !(f.derived_from && f.derived_from.length));
  const byName = new Map(asked.map((f) => [f.name, f]));
  const out = SECTIONS.map((s) => ({
    title: s.title, fields: s.fields.filter((n) => byName.has(n)).map((n) => byName.get(n)),
  }));
  const named = new Set(SECTIONS.flatMap((s) => s.fields));
  const rest = asked.filter((f) => !named.has(f.name));
  if (rest.length) out.push({ title: OTHER, fields: rest });
  return out.filter((s) => s.fields.length);
}

// The control that asks for ``field``: its kind (boolean → 是/否 radios, choices → a select,
// bands → a select of bands or the exact number, number, date, code, text), its texts and the
// quick answers the question card offers ([{label, value}], value as the control takes it).
export function describeControl(field) {
  const numeric = field.type === "number" || field.type === "integer";
  const base = {
    name: field.name, label: field.label || field.name, question: field.question || field.label,
    help: field.help || "", unit: field.unit || "", options: [], quick: [],
  };
  if (field.type === "boolean") {
    const options = [{ value: "true", label: "是" }, { value: "false", label: "否" }];
    return { ...base, kind: "boolean", options, quick: options };
  }
  if (field.choices && field.choices.length && !numeric) {
    const options = field.choices.map((c) => ({ value: c, label: c }));
    return { ...base, kind: "select", options,
      quick: options.length <= MAX_QUICK ? options : [] };
  }
  if (numeric && field.bands && field.bands.length) {
    const options = field.bands.map((b, i) => ({ value: String(i), label: b.label }));
    return { ...base, kind: "banded", integer: field.type === "integer", bands: field.bands,
      options: [...options, { value: EXACT, label: "填写准确数字" }], quick: options };
  }
  if (numeric) return { ...base, kind: "number", integer: field.type === "integer" };
  if (field.type === "date") return { ...base, kind: "date" };
  if (field.type === "code") return { ...base, kind: "code" };
  return { ...base, kind: "text" };
}

function normalised(text) {
  return String(text === undefined || text === null ? "" : text).normalize("NFKC").trim();
}

function numberOf(control, raw) {
  const text = normalised(raw).replace(/[,\s]/g, "");
  if (!/^\d+(\.\d+)?$/.test(text)) {
    return { error: "请填写" + (control.integer ? "整数" : "数字") +
      (control.unit ? "（单位：" + control.unit + "）" : "") + "，如 " + (control.integer ? "25" : "120.5") };
  }
  const value = Number(text);
  if (control.integer && !Number.isInteger(value)) return { error: "请填写整数，如 25" };
  return { value };
}

// One control's raw value as a fact: {value}, {error: 中文} or {} (not answered). ``raw`` is
// the control's string; for a banded field {band, exact} (band: an index, EXACT or "").
export function factValue(control, raw) {
  if (control.kind === "banded") {
    const band = raw && typeof raw === "object" ? String(raw.band || "") : "";
    if (band === EXACT) {
      const exact = normalised(raw.exact);
      return exact ? numberOf(control, exact) : {};
    }
    const b = control.bands[Number(band)];
    if (band === "" || !b) return {};
    return { value: b.high === null || b.high === undefined
      ? { gte: b.low } : { gte: b.low, lt: b.high } };
  }
  const text = normalised(raw);
  if (!text) return {};
  switch (control.kind) {
    case "boolean":
      return text === "true" ? { value: true } : text === "false" ? { value: false } : {};
    case "select":
      return control.options.some((o) => o.value === text) ? { value: text }
        : { error: "请从选项中选择" };
    case "number":
      return numberOf(control, text);
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text))
        ? { value: text } : { error: "请填写日期，如 2020-05-18" };
    case "code": {
      const code = text.replace(/\s+/g, "").toUpperCase();
      return /^[A-T]\d{0,4}$/.test(code) ? { value: code }
        : { error: "请填写行业代码：一个字母加最多四位数字，如 C3921、I6510" };
    }
    default:
      return { value: text };
  }
}

// The request body of POST /api/policy-check from the form: ``values`` maps a field to its
// raw value, ``skipped`` holds the fields answered 不知道/跳过 (declined, whatever their
// value). Errors ({field: 中文}) stay out of the facts.
export function toRequest(controls, values, skipped) {
  const facts = {};
  const errors = {};
  const declined = [];
  for (const control of controls) {
    if (skipped.has(control.name)) {
      declined.push(control.name);
      continue;
    }
    const fact = factValue(control, values[control.name]);
    if (fact.error) errors[control.name] = fact.error;
    else if (fact.value !== undefined) facts[control.name] = fact.value;
  }
  return { body: { facts, declined }, errors };
}

// The line above the cards: "已确定符合 N 项；另有 M 项取决于“…”等 K 个问题；不符合 I 项。"
export function summarise(result) {
  const eligible = (result.eligible || []).length;
  const possible = result.possible || [];
  const ineligible = (result.ineligible || []).length;
  if (!eligible && !possible.length && !ineligible) return "目前没有可以核对的政策。";
  const labels = new Map();
  for (const card of possible) {
    for (const u of card.unknown || []) if (!labels.has(u.field)) labels.set(u.field, u.label);
  }
  const next = result.next_question && result.next_question.field;
  const first = labels.has(next) ? labels.get(next) : labels.values().next().value;
  const parts = [eligible ? "已确定符合 " + eligible + " 项" : "暂未确定符合的政策"];
  if (possible.length) {
    parts.push("另有 " + possible.length + " 项取决于“" + first + "”" +
      (labels.size > 1 ? "等 " + labels.size + " 个问题" : ""));
  }
  if (ineligible) parts.push("不符合 " + ineligible + " 项");
  return parts.join("；") + "。";
}

// A policy's validity in words, as of ``day`` (YYYY-MM-DD, the check's date).
export function validityText(card, day) {
  const from = card.valid_from || "";
  const to = card.valid_to || "";
  if (day && from && day < from) return "尚未施行（" + from + " 起施行）";
  if (day && to && day > to) return "已于 " + to + " 到期";
  if (from && to) return from + " 至 " + to;
  if (from) return from + " 起施行，长期有效";
  if (to) return "有效期至 " + to;
  return "长期有效";
}

// The document a policy rests on: "title（文号）".
export function sourceText(card) {
  const doc = card.document || {};
  if (!doc.title) return doc.doc_no || "";
  return doc.title + (doc.doc_no ? "（" + doc.doc_no + "）" : "");
}

// The check's day from the page's address (?date=YYYY-MM-DD: "as on that day"), else null
// (the API's today in Shanghai).
export function dayFromSearch(search) {
  const day = new URLSearchParams(search || "").get("date") || "";
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(day)) ? day : null;
}

// An error of the check as the page says it: the API's Chinese sentence (the part before
// " / English"), with what to do.
export function errorText(err) {
  let message = String((err && err.message) || "").split(" / ")[0].trim();
  if (message && !/[。！？]$/.test(message)) message += "。";
  if (err && err.status === 429) return (message || "查询过于频繁，请稍后再试。") + "您填写的内容都还在。";
  if (err && err.status === 422) return "填写的内容有误：" + (message || "请检查后重试。");
  return message || "核对失败，请稍后重试。";
}
