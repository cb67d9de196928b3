// The condition builder of a policy item: groups (全部满足 / 任一满足 / 至少满足 k 项), 除外,
// and conditions picked from the field dictionary (GET /api/policy-fields) with the operators in
// Chinese and the field's unit. The tree it edits is the API's JSON; every change calls back,
// so the sentence and the test panel follow as it is built. Each node carries its path
// ("conditions.all[0]", as the API names it) and a slot for the test panel's ✅/❌/❓.
import { $, el, button } from "./widgets.js";
import { GROUPS, INDUSTRY_SECTIONS, OPS, opsFor, splitList, valueKind } from "./policy_sentence.js";

const NUMERIC = new Set(["number", "integer"]);

export const builder = (() => {
  let root = { all: [] };
  let fields = [];
  let onChange = () => {};

  function field(name) { return fields.find((f) => f.name === name); }

  function keyOf(node) {
    if ("field" in node) return "atom";
    return ["all", "any", "not", "at_least"].find((k) => k in node);
  }

  function childrenOf(node) {
    const key = keyOf(node);
    return key === "at_least" ? node.at_least.of : node[key];
  }

  function childPath(node, path, i) {
    const key = keyOf(node);
    return key === "at_least" ? path + ".at_least.of[" + i + "]" : path + "." + key + "[" + i + "]";
  }

  const idOf = (path, what) => "pb-" + path.replace(/[^A-Za-z0-9]+/g, "-") + "-" + what;

  function changed(rerender) {
    if (rerender) render();
    onChange();
  }

  function typed(f, raw) {
    const text = String(raw).trim();
    if (text === "") return null;
    if (f && NUMERIC.has(f.type) && !Number.isNaN(Number(text))) return Number(text);
    return text;
  }

  function labelled(control, label) {
    control.setAttribute("aria-label", label);
    return control;
  }

  function select(id, label, options, value, onPick) {
    const s = labelled(el("select"), label);
    s.id = id;
    options.forEach(([v, text]) => {
      const o = el("option", "", text);
      o.value = v;
      s.appendChild(o);
    });
    s.value = value;
    s.addEventListener("change", () => onPick(s.value));
    return s;
  }

  function input(id, label, type, value, onInput) {
    const i = labelled(el("input"), label);
    i.id = id;
    i.type = type;
    if (type === "number") i.step = "any";
    i.value = value === null || value === undefined ? "" : String(value);
    i.addEventListener("input", () => onInput(i.value));
    return i;
  }

  function valueControls(atom, path, f) {
    const kind = valueKind(atom.op);
    const box = el("span", "pb-value");
    const type = f && NUMERIC.has(f.type) ? "number" : f && f.type === "date" ? "date" : "text";
    const unit = f && f.unit ? el("span", "pb-unit", f.unit) : null;
    if (kind === "none" || !f) return box;
    if (kind === "pair") {
      const pair = Array.isArray(atom.value) ? atom.value.slice(0, 2) : [null, null];
      [0, 1].forEach((i) => {
        box.appendChild(input(idOf(path, "v" + i), (i ? "上限" : "下限") + "（" + f.label + "）", type,
          pair[i], (v) => { pair[i] = typed(f, v); atom.value = pair.slice(); changed(false); }));
        if (unit) box.appendChild(el("span", "pb-unit", f.unit));
        if (i === 0) box.appendChild(el("span", "pb-join", "至"));
      });
      return box;
    }
    if (kind === "list" && f.choices && f.choices.length) {
      const chosen = new Set(Array.isArray(atom.value) ? atom.value : []);
      f.choices.forEach((choice, i) => {
        const lab = el("label", "pb-choice");
        const c = el("input");
        c.type = "checkbox";
        c.id = idOf(path, "c" + i);
        c.checked = chosen.has(choice);
        c.addEventListener("change", () => {
          if (c.checked) chosen.add(choice); else chosen.delete(choice);
          atom.value = f.choices.filter((x) => chosen.has(x));
          changed(false);
        });
        lab.append(c, document.createTextNode(choice));
        box.appendChild(lab);
      });
      return box;
    }
    if (kind === "list") {
      const shown = Array.isArray(atom.value) ? atom.value.join("、") : "";
      const i = input(idOf(path, "v"), "取值（用顿号分隔）：" + f.label, "text", shown, (v) => {
        atom.value = splitList(v).map((x) => typed(f, x));
        changed(false);
      });
      i.placeholder = f.type === "code" ? "如 C、I65" : "用顿号分隔";
      box.appendChild(i);
      if (f.type === "code") {
        // GB/T 4754's sections, added to the list by name.
        box.appendChild(select(idOf(path, "section"), "按门类添加行业代码",
          [["", "按门类添加…"], ...Object.entries(INDUSTRY_SECTIONS).map(([k, v]) => [k, k + " " + v])], "",
          (letter) => {
            const now = Array.isArray(atom.value) ? atom.value : [];
            if (letter && !now.includes(letter)) atom.value = [...now, letter];
            changed(true);
          }));
      }
      return box;
    }
    if (f.choices && f.choices.length) {
      box.appendChild(select(idOf(path, "v"), "取值：" + f.label,
        [["", "请选择"], ...f.choices.map((c) => [c, c])], atom.value || "",
        (v) => { atom.value = v || null; changed(false); }));
      return box;
    }
    box.appendChild(input(idOf(path, "v"), "取值：" + f.label, type, atom.value,
      (v) => { atom.value = typed(f, v); changed(false); }));
    if (unit) box.appendChild(unit);
    return box;
  }

  function markSlot(path) {
    const slot = el("span", "pb-mark");
    slot.dataset.markPath = path;
    return slot;
  }

  function atomNode(atom, path) {
    const f = field(atom.field);
    const box = el("div", "pb-atom");
    box.dataset.path = path;
    box.appendChild(markSlot(path));
    const options = [["", "选择字段…"], ...fields.map((x) => [x.name,
      x.label + (x.unit ? "（" + x.unit + "）" : "") + (x.derived_from ? "（自动计算）" : "")])];
    box.appendChild(select(idOf(path, "field"), "字段", options, atom.field || "", (name) => {
      atom.field = name;
      const ops = opsFor((field(name) || {}).type);
      if (!ops.includes(atom.op)) atom.op = ops[0];
      atom.value = valueKind(atom.op) === "none" ? undefined : null;
      changed(true);
    }));
    if (f) {
      const ops = opsFor(f.type).map((op) => [op, OPS[op]]);
      box.appendChild(select(idOf(path, "op"), "条件：" + f.label, ops, atom.op || "", (op) => {
        const before = valueKind(atom.op);
        atom.op = op;
        if (valueKind(op) !== before) atom.value = valueKind(op) === "none" ? undefined : null;
        changed(true);
      }));
    }
    box.appendChild(valueControls(atom, path, f));
    if (f && f.help) box.appendChild(el("span", "hint pb-help", f.help));
    return box;
  }

  function groupNode(node, path, depth) {
    const key = keyOf(node);
    const box = el("div", "pb-group depth-" + Math.min(depth, 3));
    box.dataset.path = path;
    const head = el("div", "pb-head");
    head.appendChild(markSlot(path));
    head.appendChild(select(idOf(path, "kind"), "组合方式", Object.entries(GROUPS), key, (kind) => {
      const parts = childrenOf(node);
      delete node[key];
      if (kind === "at_least") node.at_least = { k: Math.min(2, Math.max(1, parts.length)), of: parts };
      else node[kind] = parts;
      changed(true);
    }));
    if (key === "at_least") {
      const k = input(idOf(path, "k"), "至少满足的项数", "number", node.at_least.k, (v) => {
        node.at_least.k = Number(v) || 1;
        changed(false);
      });
      k.min = "1";
      k.className = "pb-k";
      head.appendChild(k);
    }
    box.appendChild(head);
    const list = el("ol", "pb-children");
    childrenOf(node).forEach((child, i) => {
      const item = el("li");
      item.appendChild(nodeOf(child, childPath(node, path, i), depth + 1));
      item.appendChild(button("删除", "danger small-btn", () => {
        childrenOf(node).splice(i, 1);
        if (key === "at_least") node.at_least.k = Math.max(1, Math.min(node.at_least.k, node.at_least.of.length));
        changed(true);
      }, "删除这一项"));
      list.appendChild(item);
    });
    box.appendChild(list);
    const add = el("div", "pb-add");
    const push = (child) => { childrenOf(node).push(child); changed(true); };
    add.appendChild(button("添加条件", "secondary small-btn", () => push({ field: "", op: "", value: null })));
    add.appendChild(button("添加条件组", "secondary small-btn", () => push({ any: [] })));
    add.appendChild(button("添加除外", "secondary small-btn", () => push({ not: { field: "", op: "", value: null } })));
    box.appendChild(add);
    return box;
  }

  function nodeOf(node, path, depth) {
    const key = keyOf(node);
    if (key === "atom") return atomNode(node, path);
    if (key === "not") {
      const box = el("div", "pb-not");
      box.dataset.path = path;
      box.appendChild(markSlot(path));
      box.appendChild(el("span", "pb-not-label", "除外："));
      box.appendChild(nodeOf(node.not, path + ".not", depth + 1));
      return box;
    }
    return groupNode(node, path, depth);
  }

  function render() {
    const focused = document.activeElement && document.activeElement.id;
    const box = $("pol-builder");
    box.replaceChildren(nodeOf(root, "conditions", 0));
    if (focused && focused.startsWith("pb-") && $(focused)) $(focused).focus();
  }

  // The tree to load: a lone condition or 除外 goes into a 全部满足 group.
  function set(tree) {
    const copy = tree ? JSON.parse(JSON.stringify(tree)) : null;
    root = !copy ? { all: [] } : ("field" in copy || "not" in copy) ? { all: [copy] } : copy;
    render();
  }

  // The tree to save: null when there is no condition.
  function get() {
    const parts = childrenOf(root);
    if (!parts.length) return null;
    return JSON.parse(JSON.stringify(root));
  }

  function setMarks(nodes) {
    const byPath = {};
    (nodes || []).forEach((n) => { byPath[n.path] = n; });
    document.querySelectorAll("#pol-builder [data-mark-path]").forEach((slot) => {
      const n = byPath[slot.dataset.markPath];
      slot.textContent = n ? n.mark : "";
      slot.title = n ? { met: "满足", failed: "不满足", unknown: "未知" }[n.state] : "";
    });
  }

  function wire(dictionary, changedCallback) {
    fields = dictionary;
    onChange = changedCallback;
  }

  return { wire, set, get, setMarks, fields: () => fields };
})();
