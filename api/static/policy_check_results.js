// The 政策体检 result cards (POST /api/policy-check): what the enterprise qualifies for and
// why, what may still be (and which questions decide it), what not (each failed condition in
// words with its clause), and what is not in force on the day. Every text from the server goes
// in as text (el, richText).
import { sourceText, validityText } from "./policy_form.js";
import { button, el, mark, richText } from "./widgets.js";

const GROUPS = [
  { status: "eligible", title: "已确定符合", empty: "暂无已确定符合的政策。" },
  { status: "possible", title: "可能符合，还需回答", empty: "" },
  { status: "ineligible", title: "不符合", empty: "" },
];

function list(items, className) {
  const ul = el("ul", className || "pc-list");
  items.forEach((item) => {
    const li = el("li");
    if (item instanceof Node) li.appendChild(item); else li.textContent = String(item);
    ul.appendChild(li);
  });
  return ul;
}

function row(dl, term, value) {
  if (value === undefined || value === null || value === "" ||
      (Array.isArray(value) && !value.length)) return;
  dl.appendChild(el("dt", "", term));
  const dd = el("dd");
  if (Array.isArray(value)) dd.appendChild(list(value));
  else if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = String(value);
  dl.appendChild(dd);
}

// What a possible policy still waits for: each question as a button that goes to it.
function stillNeeded(card, ctx) {
  return (card.unknown || []).map((u) => {
    const skipped = ctx.skipped.has(u.field);
    const text = u.label + (skipped ? "（您选择了不知道）" : "");
    if (!ctx.has(u.field)) return text;
    return button(text, "pc-ask", () => ctx.onAsk(u.field));
  });
}

function card(data, status, ctx) {
  const item = el("li", "pc-card " + status);
  item.dataset.policy = data.id;
  const head = el("div", "pc-card-head");
  const title = el("h4", "", data.title);
  title.id = "pc-card-" + status + "-" + data.id;
  item.setAttribute("aria-labelledby", title.id);
  head.appendChild(title);
  const marks = el("div", "pc-marks");
  if (data.mode === "免申即享") marks.appendChild(mark("免申即享", "good free"));
  else if (data.mode) marks.appendChild(mark(data.mode));
  if (data.category) marks.appendChild(mark(data.category));
  head.appendChild(marks);
  item.appendChild(head);
  if (data.benefit) item.appendChild(el("p", "pc-benefit", data.benefit));

  const dl = el("dl", "pc-facts");
  if (status === "eligible") row(dl, "符合的条件", data.why);
  if (status === "possible") row(dl, "还需回答", stillNeeded(data, ctx));
  if (status === "ineligible") row(dl, "不符合的条件", (data.failed || []).map((f) => f.reason));
  if (status !== "ineligible") {
    row(dl, "需核实", data.unmodelled);
    row(dl, "所需材料", data.materials);
    if (data.apply) {
      const apply = el("span");
      apply.appendChild(richText(data.apply));
      row(dl, "办理方式", apply);
    }
    row(dl, "受理部门", data.department);
  }
  row(dl, "政策依据", sourceText(data));
  row(dl, "有效期", validityText(data, ctx.date));
  if (status !== "ineligible") row(dl, "最近核对", data.checked_on);
  item.appendChild(dl);
  return item;
}

function group(spec, cards, ctx) {
  const section = el("section", "pc-group " + spec.status);
  const heading = el("h3", "", spec.title + "（" + cards.length + "）");
  heading.id = "pc-group-" + spec.status;
  section.setAttribute("aria-labelledby", heading.id);
  section.appendChild(heading);
  if (!cards.length) {
    section.appendChild(el("p", "empty small", spec.empty));
  } else {
    const ul = el("ul", "pc-cards");
    cards.forEach((c) => ul.appendChild(card(c, spec.status, ctx)));
    section.appendChild(ul);
  }
  return section;
}

function notInForce(cards, day) {
  const details = el("details", "pc-group not_in_force");
  details.appendChild(el("summary", "", "未施行或已到期（" + cards.length + "）"));
  details.appendChild(list(cards.map((c) => c.title + "：" + validityText(c, day) +
    (sourceText(c) ? "。依据：" + sourceText(c) : ""))));
  return details;
}

// The cards of ``result`` into ``container``; ``ctx``: {has(field), skipped, onAsk(field)}.
// A group with nothing in it is left out, except 已确定符合, which says so.
export function renderResults(container, result, ctx) {
  const context = { ...ctx, date: result.date };
  container.textContent = "";
  GROUPS.forEach((spec) => {
    const cards = result[spec.status] || [];
    if (cards.length || spec.empty) container.appendChild(group(spec, cards, context));
  });
  if ((result.not_in_force || []).length) {
    container.appendChild(notInForce(result.not_in_force, result.date));
  }
}
