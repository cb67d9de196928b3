// The policy item's 申请表字段 (智能填表): the application form's fields in order, each with
// its key, its label, the dictionary fact it is filled from (none: the applicant fills it in),
// 必填 and a hint; rows added, removed and moved up or down. Saved with the item as ``form``;
// the server checks every field (a fact the dictionary lacks, a key twice) and lists what it
// refuses. formOf and moved are pure (tests/js/editor_policy_fields.test.js).
import { el, button } from "./widgets.js";

// The rows as the item's ``form``: empty rows dropped, text trimmed, defaults left out.
export function formOf(rows) {
  return rows.filter((r) => (r.key || "").trim() || (r.label || "").trim()).map((r) => {
    const out = { key: (r.key || "").trim(), label: (r.label || "").trim() };
    if (r.fact) out.fact = r.fact;
    if (r.required) out.required = true;
    if ((r.help || "").trim()) out.help = r.help.trim();
    return out;
  });
}

// ``rows`` with row ``i`` moved by ``delta`` (a new array; unchanged at either end).
export function moved(rows, i, delta) {
  const j = i + delta;
  if (j < 0 || j >= rows.length) return rows.slice();
  const out = rows.slice();
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

// A key for a fact not yet in the form: the fact's name, numbered when taken.
export function keyFor(fact, rows) {
  const taken = new Set(rows.map((r) => r.key));
  let key = fact || "field";
  for (let n = 2; taken.has(key); n += 1) key = (fact || "field") + "_" + n;
  return key;
}

export const formFields = (() => {
  let rows = [];
  let facts = [];   // the dictionary's base fields (a derived one is not stored in the register)
  let box = null;
  let changed = () => {};

  function input(row, name, label, n, attrs = {}) {
    const control = el("input");
    control.value = row[name] || "";
    control.setAttribute("aria-label", label + "：第 " + n + " 行");
    Object.assign(control, { autocomplete: "off", ...attrs });
    control.addEventListener("input", () => { row[name] = control.value; changed(); });
    return control;
  }

  function factSelect(row, n) {
    const select = el("select");
    select.setAttribute("aria-label", "填自登记信息：第 " + n + " 行");
    const none = el("option", "", "（申请人填写）");
    none.value = "";
    select.appendChild(none);
    facts.forEach((f) => {
      const o = el("option", "", f.label + "（" + f.name + "）");
      o.value = f.name;
      select.appendChild(o);
    });
    if (row.fact && !facts.some((f) => f.name === row.fact)) {
      const o = el("option", "", row.fact + "（字段词典中没有）");
      o.value = row.fact;
      select.appendChild(o);
    }
    select.value = row.fact || "";
    select.addEventListener("change", () => {
      row.fact = select.value;
      const f = facts.find((x) => x.name === row.fact);
      if (f && !row.label) row.label = f.label;
      if (f && !row.key) row.key = keyFor(f.name, rows);
      render();
      changed();
    });
    return select;
  }

  function render() {
    const table = el("table", "form-fields");
    const head = el("tr");
    ["编号", "名称", "填自登记信息", "必填", "填写说明", ""].forEach((t) => head.appendChild(el("th", "", t)));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    rows.forEach((row, i) => {
      const n = i + 1;
      const tr = el("tr");
      const required = el("input");
      required.type = "checkbox";
      required.checked = !!row.required;
      required.setAttribute("aria-label", "必填：第 " + n + " 行");
      required.addEventListener("change", () => { row.required = required.checked; changed(); });
      const actions = el("td");
      actions.append(
        button("上移", "secondary small-btn", () => { rows = moved(rows, i, -1); render(); changed(); }, "上移：第 " + n + " 行"),
        button("下移", "secondary small-btn", () => { rows = moved(rows, i, 1); render(); changed(); }, "下移：第 " + n + " 行"),
        button("删除", "danger small-btn", () => { rows.splice(i, 1); render(); changed(); }, "删除：第 " + n + " 行"));
      [input(row, "key", "编号", n, { maxLength: 64, placeholder: "如 employees" }),
        input(row, "label", "名称", n, { maxLength: 100 }), factSelect(row, n), required,
        input(row, "help", "填写说明", n, { maxLength: 300 })]
        .forEach((control) => tr.appendChild(el("td")).appendChild(control));
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    box.replaceChildren();
    if (rows.length) box.appendChild(table);
    else box.appendChild(el("p", "hint", "尚无申请表字段：企业下载的预填表只列申请材料。"));
    box.appendChild(button("添加字段", "secondary small-btn", () => {
      rows.push({ key: "", label: "", fact: "", required: false, help: "" });
      render();
      changed();
    }));
  }

  function wire(container, dictionaryFields, onChange) {
    box = container;
    facts = dictionaryFields.filter((f) => !(f.derived_from && f.derived_from.length));
    changed = onChange || changed;
  }

  function set(form) {
    rows = (form || []).map((f) => ({ key: f.key || "", label: f.label || "", fact: f.fact || "",
      required: !!f.required, help: f.help || "" }));
    render();
  }

  return { wire, set, get: () => formOf(rows) };
})();
