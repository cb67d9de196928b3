// The signed-in enterprise's register facts on the 政策体检 page: the sentence the check starts
// from (the API's register_sentence), each fact with its source and date, the enterprise's own
// word beside the authority's ("登记：60人；您填报：62人"), and 更正 to file a correction
// (POST /api/policy-check/corrections, stored as 企业自报 beside the authority's, never over it).
// Anonymous visitors get no register facts from the API, so nothing is shown.
import { api } from "./api.js";
import { button, el } from "./widgets.js";

// One fact's line: "登记：60人（市场监管登记，2026-11-01）；您填报：62人（企业自报，2026-12-07）".
export function factLine(row) {
  const own = row.source === "企业自报" || row.source === "对话中填报";
  let text = (own ? "您填报：" : "登记：") + row.shown + "（" + row.source + "，" + row.as_of + "）";
  if (row.declared) {
    text += "；您填报：" + row.declared.shown + "（" + row.declared.source + "，" +
      row.declared.as_of + "）";
  }
  return text;
}

function correction(row, onCorrected, showError) {
  const box = el("form", "pc-correct");
  box.hidden = true;
  const input = el("input", "pc-input");
  input.type = "text";
  input.id = "pc-correct-" + row.field;
  input.value = String((row.declared || row).value);
  const label = el("label", "visually-hidden", "更正" + row.label);
  label.htmlFor = input.id;
  box.append(label, input, button("提交更正", "secondary", null));
  box.lastChild.type = "submit";
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/api/policy-check/corrections", { facts: { [row.field]: input.value.trim() } });
      showError("");
      onCorrected();
    } catch (err) {
      showError(err.message);
    }
  });
  return box;
}

// Render ``result.from_register`` into ``node``; ``onCorrected`` re-checks after a correction.
export function renderRegister(node, result, onCorrected, showError) {
  const rows = result.from_register || [];
  node.hidden = !rows.length;
  node.textContent = "";
  if (!rows.length) return;
  node.append(el("h3", "", "登记信息"), el("p", "pc-register-sentence", result.register_sentence));
  const list = el("ul", "pc-register-facts");
  rows.forEach((row) => {
    const item = el("li", "");
    item.dataset.field = row.field;
    item.append(el("strong", "", row.label + "："), el("span", "pc-register-line", factLine(row)));
    const form = correction(row, onCorrected, showError);
    item.append(button("更正", "option", () => { form.hidden = !form.hidden; }, "更正：" + row.label),
      form);
    list.appendChild(item);
  });
  node.append(list, el("p", "hint", "更正作为“企业自报”与登记信息一并保存，不会覆盖登记机关的数据；核对以登记机关的数据为准。"));
}
