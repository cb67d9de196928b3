// The 政策体检 form: one fieldset a field, built from its control description
// (policy_form.describeControl), each with 不知道 / 跳过. The form is the one place the answers
// live: values() reads them back for toRequest, setAnswer() is the question card's way in.
import { EXACT } from "./policy_form.js";
import { el } from "./widgets.js";

const id = (name, part) => "pc-" + name + (part ? "-" + part : "");

function labelled(forId, text, className) {
  const label = el("label", className, text);
  label.htmlFor = forId;
  return label;
}

function option(value, text) {
  const node = el("option", "", text);
  node.value = value;
  return node;
}

function textInput(control, inputId, integer) {
  const input = el("input", "pc-input");
  input.id = inputId;
  input.type = "text";
  input.autocomplete = "off";
  if (control.kind === "number" || control.kind === "banded") {
    input.inputMode = integer ? "numeric" : "decimal";
  }
  return input;
}

function withUnit(input, unit) {
  if (!unit) return input;
  const row = el("div", "pc-with-unit");
  row.append(input, el("span", "pc-unit", unit));
  return row;
}

// The value controls of one field (its radios, select or input), appended to ``box``.
function valueControls(control, box) {
  const mainId = id(control.name);
  if (control.kind === "boolean") {
    const row = el("div", "pc-radios");
    control.options.forEach((o) => {
      const label = el("label", "pc-radio");
      const radio = el("input");
      radio.type = "radio";
      radio.name = mainId;
      radio.value = o.value;
      radio.id = id(control.name, o.value);
      radio.setAttribute("aria-describedby", id(control.name, "q"));
      label.append(radio, document.createTextNode(o.label));
      row.appendChild(label);
    });
    box.append(el("p", "pc-q", control.question), row);
    box.querySelector(".pc-q").id = id(control.name, "q");
    return;
  }
  box.appendChild(labelled(mainId, control.question, "pc-q"));
  if (control.kind === "select" || control.kind === "banded") {
    const select = el("select", "pc-input");
    select.id = mainId;
    select.appendChild(option("", "请选择"));
    control.options.forEach((o) => select.appendChild(option(o.value, o.label)));
    box.appendChild(select);
    if (control.kind === "banded") {
      const exact = el("div", "pc-exact");
      exact.hidden = true;
      const exactId = id(control.name, "exact");
      exact.append(labelled(exactId, "准确数字" + (control.unit ? "（" + control.unit + "）" : "")),
        withUnit(textInput(control, exactId, control.integer), control.unit));
      box.appendChild(exact);
      select.addEventListener("change", () => { exact.hidden = select.value !== EXACT; });
    }
    return;
  }
  if (control.kind === "date") {
    const input = el("input", "pc-input");
    input.id = mainId;
    input.type = "date";
    box.appendChild(input);
    return;
  }
  const input = textInput(control, mainId, control.integer);
  if (control.kind === "code") {
    input.placeholder = "如 C3921";
    input.autocapitalize = "characters";
    input.spellcheck = false;
  }
  box.appendChild(withUnit(input, control.unit));
}

function fieldset(control) {
  const box = el("fieldset", "pc-field");
  box.id = id(control.name, "field");
  box.dataset.field = control.name;
  box.appendChild(el("legend", "", control.label));
  valueControls(control, box);
  if (control.help) box.appendChild(el("p", "hint", control.help));
  const error = el("p", "field-error");
  error.id = id(control.name, "error");
  error.hidden = true;
  box.appendChild(error);
  const skip = el("label", "pc-skip");
  const check = el("input");
  check.type = "checkbox";
  check.id = id(control.name, "skip");
  skip.append(check, document.createTextNode("不知道 / 跳过"));
  box.appendChild(skip);
  check.addEventListener("change", () => {
    box.classList.toggle("skipped", check.checked);
    box.querySelectorAll("input:not([type=checkbox]), select").forEach((c) => {
      c.disabled = check.checked;
    });
  });
  return box;
}

// The form of ``groups`` (policy_form.sections) with its controls ({describeControl} each).
export function buildForm(form, groups, describe) {
  form.textContent = "";
  const controls = [];
  groups.forEach((group, i) => {
    const section = el("section", "pc-section");
    const heading = el("h3", "", group.title);
    heading.id = "pc-section-" + i;
    section.setAttribute("aria-labelledby", heading.id);
    section.appendChild(heading);
    group.fields.forEach((field) => {
      const control = describe(field);
      controls.push(control);
      section.appendChild(fieldset(control));
    });
    form.appendChild(section);
  });
  const byName = new Map(controls.map((c) => [c.name, c]));
  const node = (name, part) => document.getElementById(id(name, part));

  function rawValue(control) {
    if (control.kind === "boolean") {
      const checked = form.querySelector(`input[name="${id(control.name)}"]:checked`);
      return checked ? checked.value : "";
    }
    if (control.kind === "banded") {
      return { band: node(control.name).value, exact: node(control.name, "exact").value };
    }
    return node(control.name).value;
  }

  return {
    controls,
    has: (name) => byName.has(name),
    control: (name) => byName.get(name),
    values: () => Object.fromEntries(controls.map((c) => [c.name, rawValue(c)])),
    skipped: () => new Set(controls.filter((c) => node(c.name, "skip").checked).map((c) => c.name)),
    // An answer from the question card, as the control takes it (a band's index, "true" …).
    setAnswer(name, value) {
      const control = byName.get(name);
      if (!control) return;
      const skip = node(name, "skip");
      if (skip.checked) {
        skip.checked = false;
        skip.dispatchEvent(new Event("change"));
      }
      if (control.kind === "boolean") {
        node(name, value).checked = true;
      } else {
        node(name).value = value;
        node(name).dispatchEvent(new Event("change"));
      }
    },
    skip(name) {
      const skip = node(name, "skip");
      if (!skip || skip.checked) return;
      skip.checked = true;
      skip.dispatchEvent(new Event("change"));
    },
    // Scroll to a field and put the keyboard there (its first control, or the exact number).
    focusField(name, exact) {
      const box = node(name, "field");
      if (!box) return;
      const target = exact ? node(name, "exact") : box.querySelector("input, select");
      box.scrollIntoView({ block: "center" });
      if (target) target.focus();
    },
    // The next question's field is marked in the form too.
    markNext(name) {
      form.querySelectorAll(".pc-field.next").forEach((b) => b.classList.remove("next"));
      if (name && node(name, "field")) node(name, "field").classList.add("next");
    },
    showErrors(errors) {
      controls.forEach((c) => {
        const line = node(c.name, "error");
        const message = errors[c.name] || "";
        line.textContent = message;
        line.hidden = !message;
        const input = c.kind === "banded" ? node(c.name, "exact") : node(c.name);
        if (!input) return;
        input.setAttribute("aria-invalid", message ? "true" : "false");
        if (message) input.setAttribute("aria-describedby", line.id);
        else input.removeAttribute("aria-describedby");
      });
    },
  };
}
