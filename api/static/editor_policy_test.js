// The test panel of a policy item: a sample enterprise (the facts its conditions test; left
// empty, a fact is unknown) and a date, sent with the form as it stands to
// POST /api/policies/test on every change; back come the result, each condition ✅/❌/❓ (also
// shown in the builder), the checks before publishing and the boundary cases of every
// threshold and date with their expected results, and each saved test case rerun. A sample may
// be kept as a test case with its result as the one expected; the cases are saved with the item.
import { $, el, button } from "./widgets.js";
import { call, say } from "./editor_shared.js";
import { builder } from "./editor_policy_builder.js";

export const RESULTS = { eligible: "✅ 符合", possible: "❓ 可能符合（还缺信息）", ineligible: "❌ 不符合",
  not_in_force: "不在有效期内" };
const WORDS = { eligible: "符合", possible: "可能符合", ineligible: "不符合", not_in_force: "不在有效期内" };
const CASES = { at: "刚好等于", below: "略低/早一天", above: "略高/晚一天", unknown: "未知" };
const LEVELS = { error: "错误", warning: "提醒" };

export const tester = (() => {
  const sample = {};      // field -> the value typed (strings as in the inputs)
  let itemOf = () => ({});
  let timer = null;
  let seq = 0;
  let lastChecks = [];
  let cases = [];         // the item's saved test cases (saved with the item)
  let lastResult = null;  // the sample's result as last tested
  let lastRuns = [];      // each saved case's result as last tested

  function used(tree, out = new Set()) {
    if (!tree || typeof tree !== "object") return out;
    if ("field" in tree) {
      if (tree.field) out.add(tree.field);
      return out;
    }
    [...(tree.all || []), ...(tree.any || []), ...(tree.at_least ? tree.at_least.of : [])]
      .forEach((part) => used(part, out));
    if (tree.not) used(tree.not, out);
    return out;
  }

  function inputFor(f) {
    const id = "ps-" + f.name;
    const wrap = el("div", "field");
    const label = el("label", "", f.label + (f.unit ? "（" + f.unit + "）" : ""));
    label.htmlFor = id;
    let control;
    if (f.type === "boolean" || (f.choices && f.choices.length)) {
      control = el("select");
      const options = f.type === "boolean" ? [["", "未知"], ["true", "是"], ["false", "否"]] :
        [["", "未知"], ...f.choices.map((c) => [c, c])];
      options.forEach(([v, t]) => { const o = el("option", "", t); o.value = v; control.appendChild(o); });
    } else {
      control = el("input");
      control.type = f.type === "date" ? "date" : (f.type === "number" || f.type === "integer") ? "number" : "text";
      if (control.type === "number") control.step = "any";
      control.autocomplete = "off";
    }
    control.id = id;
    control.value = sample[f.name] || "";
    control.addEventListener(control.tagName === "SELECT" ? "change" : "input", () => {
      sample[f.name] = control.value;
      schedule();
    });
    wrap.append(label, control);
    return wrap;
  }

  // The sample's inputs: the fields the conditions test, and the inputs of derived ones.
  function renderSample() {
    const fields = builder.fields();
    const names = new Set();
    used(builder.get()).forEach((name) => {
      names.add(name);
      const f = fields.find((x) => x.name === name);
      (f && f.derived_from || []).forEach((n) => names.add(n));
    });
    const box = $("pol-sample");
    const focused = document.activeElement && document.activeElement.id;
    box.replaceChildren(...fields.filter((f) => names.has(f.name)).map(inputFor));
    if (!names.size) box.appendChild(el("p", "hint", "添加条件后，可在这里填写样例企业的情况。"));
    if (focused && focused.startsWith("ps-") && $(focused)) $(focused).focus();
  }

  function facts() {
    const out = {};
    const fields = builder.fields();
    Object.entries(sample).forEach(([name, value]) => {
      if (value === "" || value === undefined) return;
      const f = fields.find((x) => x.name === name);
      if (!f || !$("ps-" + name)) return;
      out[name] = f.type === "boolean" ? value === "true" : value;
    });
    return out;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  }

  function update() {
    renderSample();
    schedule();
  }

  async function run() {
    const mine = ++seq;
    const body = { item: itemOf(), facts: facts() };
    if ($("pol-test-date").value) body.date = $("pol-test-date").value;
    try {
      const out = await call("POST", "/api/policies/test", body);
      if (mine !== seq) return;
      render(out);
    } catch (err) {
      if (mine !== seq) return;
      $("pol-result").textContent = err.message;
      $("pol-result").className = "decision abstain";
    }
  }

  function render(out) {
    const result = out.result;
    const line = $("pol-result");
    $("pol-marks").replaceChildren();
    if (!result) {
      line.textContent = "条件还没有写完，暂时无法测试（见下方检查）。";
      line.className = "decision suggest";
      builder.setMarks([]);
    } else {
      line.textContent = "测试结果：" + (RESULTS[result.status] || result.status);
      line.className = "decision " + ({ eligible: "answer", possible: "suggest" }[result.status] || "abstain");
      builder.setMarks(result.nodes);
      result.nodes.filter((n) => n.kind === "atom").forEach((n) => {
        $("pol-marks").appendChild(el("li", "mark-" + n.state,
          n.mark + " " + n.text + (n.given !== null && n.given !== undefined ? "（样例：" + n.given + "）" : "")));
      });
      (result.unknown || []).forEach((u) => $("pol-marks").appendChild(el("li", "hint", "还需要：" + u.label)));
    }
    lastResult = result ? result.status : null;
    lastRuns = out.cases || [];
    renderCases();
    lastChecks = out.checks || [];
    $("pol-checks").replaceChildren(...(lastChecks.length ? lastChecks.map((c) =>
      el("li", "check-" + c.level, (LEVELS[c.level] || c.level) + "：" + c.message)) :
      [el("li", "check-ok", "没有发现问题。")]));
    $("pol-boundaries").replaceChildren(...(out.boundaries || []).map((c) => {
      const tr = el("tr");
      [c.label, CASES[c.case] || c.case, c.shown, c.condition,
        RESULTS[c.expected] || c.expected].forEach((t) => tr.appendChild(el("td", "", t)));
      return tr;
    }));
  }

  function renderCases() {
    const box = $("pol-cases");
    box.replaceChildren();
    if (!cases.length) { box.appendChild(el("li", "hint", "还没有测试用例。")); return; }
    cases.forEach((c, i) => {
      const run = lastRuns.find((r) => r.index === i);
      const li = el("li", run ? (run.passed ? "check-ok" : "check-error") : "");
      const given = Object.entries(c.facts).map(([k, v]) => {
        const f = builder.fields().find((x) => x.name === k);
        return (f ? f.label : k) + "=" + (v === true ? "是" : v === false ? "否" : v);
      }).join("，");
      li.appendChild(el("span", "", (run ? (run.passed ? "✅ " : "❌ ") : "") + (c.name || "用例 " + (i + 1)) +
        "：预期" + (WORDS[c.expected] || c.expected) + (run && !run.passed ? "，实际" +
        (WORDS[run.actual] || run.actual) : "") + (given ? "（" + given + "）" : "")));
      li.appendChild(button("删除", "danger small-btn", () => {
        cases.splice(i, 1);
        lastRuns = [];
        renderCases();
        schedule();
      }, "删除测试用例：" + (c.name || "用例 " + (i + 1))));
      box.appendChild(li);
    });
  }

  function saveCase() {
    if (!lastResult) { say("请先填写样例企业，得到测试结果后再保存为用例。", true); return; }
    const c = { name: $("pol-case-name").value.trim(), facts: facts(), expected: lastResult };
    if ($("pol-test-date").value) c.date = $("pol-test-date").value;
    cases.push(c);
    $("pol-case-name").value = "";
    renderCases();
    schedule();
    say("已加入测试用例（预期：" + WORDS[lastResult] + "），保存事项后生效");
  }

  function wire(readItem) {
    itemOf = readItem;
    $("pol-test-date").addEventListener("input", schedule);
    $("pol-case-save").addEventListener("click", saveCase);
  }

  // The item's saved cases, on opening (``fresh``: a new sample too) or after a save.
  function reset(saved, fresh) {
    if (fresh) Object.keys(sample).forEach((k) => delete sample[k]);
    lastChecks = [];
    lastRuns = [];
    lastResult = null;
    cases = JSON.parse(JSON.stringify(saved || []));
    renderCases();
  }

  return { wire, update, reset, checks: () => lastChecks, cases: () => cases.slice() };
})();
