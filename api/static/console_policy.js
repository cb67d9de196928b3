// The context pack's 政策体检: the facts the user gave in the chat (labels and units from the
// field dictionary, a declined one as 不知道/跳过) and what the published policies decide
// today — 已确定符合, 可能符合 with what is still needed, 不符合 with why.
import { checkupLine, factText } from "./format.js";
import { $, el } from "./widgets.js";

function resultList(title, rows, detail) {
  const box = el("div", "policy-group");
  box.appendChild(el("h4", "", title + "（" + rows.length + "）"));
  const list = el("ul", "ticket-list");
  rows.forEach((r) => {
    const mark = r.mode === "免申即享" ? "【免申即享】" : "";
    const item = el("li", "", mark + r.title);
    const more = detail(r);
    if (more) item.appendChild(el("div", "tid", more));
    list.appendChild(item);
  });
  box.appendChild(list);
  return box;
}

export function renderCheckup(check) {
  const box = $("ctx-policy");
  box.replaceChildren();
  box.hidden = !check;
  if (!check) return;
  box.appendChild(el("h3", "", "政策体检"));
  box.appendChild(el("p", "hint", "用户在对话中填报" + (check.given_on ? "（" + check.given_on + "）" : "") +
    "；结果按 " + check.date + " 已发布的政策重新计算。"));
  const facts = el("dl", "policy-facts");
  (check.facts || []).forEach((f) => {
    facts.appendChild(el("dt", "", f.label));
    facts.appendChild(el("dd", "", factText(f)));
  });
  box.appendChild(facts);
  if (!(check.facts || []).length) box.appendChild(el("p", "empty small", "尚未填报任何信息"));
  box.appendChild(el("p", "policy-line", checkupLine(check)));
  box.appendChild(resultList("已确定符合", check.eligible || [], () => ""));
  box.appendChild(resultList("可能符合", check.possible || [],
    (r) => ((r.needed || []).length ? "还需：" + r.needed.join("、") : "")));
  const failed = el("details");
  failed.appendChild(el("summary", "", "不符合（" + (check.ineligible || []).length + "）"));
  (check.ineligible || []).forEach((r) => {
    const item = el("div", "policy-failed");
    item.appendChild(el("div", "", r.title));
    (r.failed || []).forEach((why) => item.appendChild(el("div", "tid", why)));
    failed.appendChild(item);
  });
  box.appendChild(failed);
}
