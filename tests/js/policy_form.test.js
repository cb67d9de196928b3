// The 政策体检 page's pure functions (api/static/policy_form.js) under Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as p from "../../api/static/policy_form.js";

// Fields as GET /api/policy-fields gives them (policies/data/fields.yaml).
const EMPLOYEES = {
  name: "employees", type: "integer", unit: "人", label: "从业人数",
  question: "贵企业现有从业人数大约多少人？",
  bands: [{ low: 0, high: 10, label: "10人以下" }, { low: 300, high: 1000, label: "300–1000人" },
    { low: 1000, high: null, label: "1000人及以上" }],
};
const HIGH_TECH = { name: "high_tech", type: "boolean", label: "有效期内高新技术企业",
  question: "贵企业是否为有效期内的高新技术企业？" };
const TAXPAYER = { name: "taxpayer_type", type: "choice", label: "增值税纳税人类型",
  choices: ["一般纳税人", "小规模纳税人"] };
const DISTRICT = { name: "district", type: "text", label: "注册地所在区", choices: ["宝山区", "浦东新区"] };
const FOUNDED = { name: "founded_on", type: "date", label: "成立日期" };
const INDUSTRY = { name: "industry", type: "code", label: "所属行业", help: "GB/T 4754-2017" };
const RD = { name: "rd_ratio", type: "number", unit: "%", label: "研发费用占比" };
const VETERANS = { name: "veterans_hired", type: "integer", unit: "人", label: "当年招用退役士兵人数" };
const SCALE = { name: "scale", type: "choice", label: "企业规模", choices: ["大型", "小型"],
  derived_from: ["industry", "employees"] };
const NEW = { name: "exports", type: "boolean", label: "有出口业务" };

describe("the form's controls", () => {
  test("each field type gets its control, its texts and its quick answers", () => {
    const employees = p.describeControl(EMPLOYEES);
    assert.equal(employees.kind, "banded");
    assert.equal(employees.question, "贵企业现有从业人数大约多少人？");
    assert.equal(employees.unit, "人");
    assert.deepEqual(employees.quick.map((o) => o.label), ["10人以下", "300–1000人", "1000人及以上"]);
    assert.deepEqual(employees.options.at(-1), { value: p.EXACT, label: "填写准确数字" });

    const highTech = p.describeControl(HIGH_TECH);
    assert.equal(highTech.kind, "boolean");
    assert.deepEqual(highTech.quick, [{ value: "true", label: "是" }, { value: "false", label: "否" }]);
    assert.equal(p.describeControl(TAXPAYER).kind, "select");
    assert.deepEqual(p.describeControl(DISTRICT).options.map((o) => o.value), ["宝山区", "浦东新区"]);
    assert.equal(p.describeControl(FOUNDED).kind, "date");
    assert.equal(p.describeControl(FOUNDED).question, "成立日期");  // no question: the label
    assert.equal(p.describeControl(INDUSTRY).kind, "code");
    assert.equal(p.describeControl(INDUSTRY).help, "GB/T 4754-2017");
    assert.equal(p.describeControl(RD).kind, "number");
    assert.equal(p.describeControl(VETERANS).integer, true);
    assert.deepEqual(p.describeControl(RD).quick, []);  // typed in the form
  });

  test("many choices are not offered as buttons", () => {
    const many = { ...TAXPAYER, choices: Array.from({ length: 20 }, (_, i) => "选项" + i) };
    assert.deepEqual(p.describeControl(many).quick, []);
    assert.equal(p.describeControl(many).options.length, 20);
  });

  test("sections keep their order, leave derived fields out and gather new ones under 其他", () => {
    const out = p.sections([NEW, SCALE, HIGH_TECH, EMPLOYEES, DISTRICT, INDUSTRY]);
    assert.deepEqual(out.map((s) => s.title), ["基本情况", "规模与经营", "科技创新", "其他"]);
    assert.deepEqual(out[0].fields.map((f) => f.name), ["district", "industry"]);
    assert.deepEqual(out.at(-1).fields.map((f) => f.name), ["exports"]);
    assert.ok(!out.flatMap((s) => s.fields).some((f) => f.name === "scale"));
  });
});

describe("form values to facts", () => {
  const employees = p.describeControl(EMPLOYEES);

  test("a band is an interval; the last band has no end", () => {
    assert.deepEqual(p.factValue(employees, { band: "1" }), { value: { gte: 300, lt: 1000 } });
    assert.deepEqual(p.factValue(employees, { band: "2" }), { value: { gte: 1000 } });
    assert.deepEqual(p.factValue(employees, { band: "" }), {});
    assert.deepEqual(p.factValue(employees, undefined), {});
  });

  test("the exact number instead of a band, checked for its type", () => {
    assert.deepEqual(p.factValue(employees, { band: p.EXACT, exact: "320" }), { value: 320 });
    assert.deepEqual(p.factValue(employees, { band: p.EXACT, exact: "１,２００" }), { value: 1200 });
    assert.deepEqual(p.factValue(employees, { band: p.EXACT, exact: "" }), {});
    assert.match(p.factValue(employees, { band: p.EXACT, exact: "12.5" }).error, /整数/);
    assert.match(p.factValue(employees, { band: p.EXACT, exact: "很多" }).error, /单位：人/);
    assert.match(p.factValue(employees, { band: p.EXACT, exact: "-3" }).error, /整数/);
    assert.deepEqual(p.factValue(p.describeControl(RD), "4.5"), { value: 4.5 });
  });

  test("booleans, choices, dates and industry codes", () => {
    const highTech = p.describeControl(HIGH_TECH);
    assert.deepEqual(p.factValue(highTech, "true"), { value: true });
    assert.deepEqual(p.factValue(highTech, "false"), { value: false });  // false is an answer
    assert.deepEqual(p.factValue(highTech, ""), {});
    const taxpayer = p.describeControl(TAXPAYER);
    assert.deepEqual(p.factValue(taxpayer, "小规模纳税人"), { value: "小规模纳税人" });
    assert.ok(p.factValue(taxpayer, "大型").error);
    const founded = p.describeControl(FOUNDED);
    assert.deepEqual(p.factValue(founded, "2020-05-18"), { value: "2020-05-18" });
    assert.match(p.factValue(founded, "去年").error, /日期/);
    const industry = p.describeControl(INDUSTRY);
    assert.deepEqual(p.factValue(industry, " c 3921 "), { value: "C3921" });
    assert.deepEqual(p.factValue(industry, "Ｉ６５"), { value: "I65" });
    assert.match(p.factValue(industry, "软件").error, /C3921/);
  });

  test("the request: facts, declined fields and the errors kept out", () => {
    const controls = [EMPLOYEES, HIGH_TECH, TAXPAYER, FOUNDED, VETERANS].map(p.describeControl);
    const values = { employees: { band: "0" }, high_tech: "true", taxpayer_type: "小规模纳税人",
      founded_on: "2020-05-18", veterans_hired: "两个" };
    const { body, errors } = p.toRequest(controls, values, new Set(["high_tech", "founded_on"]));
    assert.deepEqual(body, { facts: { employees: { gte: 0, lt: 10 }, taxpayer_type: "小规模纳税人" },
      declined: ["high_tech", "founded_on"] });
    assert.deepEqual(Object.keys(errors), ["veterans_hired"]);
    assert.deepEqual(p.toRequest(controls, {}, new Set()).body, { facts: {}, declined: [] });
  });
});

describe("the result in words", () => {
  const unknown = (...fields) => fields.map(([field, label]) => ({ field, label }));

  test("eligible, possible with the questions they wait for, ineligible", () => {
    const result = {
      eligible: [{ id: "a" }, { id: "b" }],
      possible: [{ id: "c", unknown: unknown(["high_tech", "有效期内高新技术企业"]) },
        { id: "d", unknown: unknown(["veterans_hired", "当年招用退役士兵人数"], ["high_tech", "有效期内高新技术企业"]) }],
      ineligible: [{ id: "e" }],
      next_question: { field: "veterans_hired" },
    };
    assert.equal(p.summarise(result),
      "已确定符合 2 项；另有 2 项取决于“当年招用退役士兵人数”等 2 个问题；不符合 1 项。");
    assert.equal(p.summarise({ ...result, next_question: null }),
      "已确定符合 2 项；另有 2 项取决于“有效期内高新技术企业”等 2 个问题；不符合 1 项。");
  });

  test("one question left, nothing yet, nothing at all", () => {
    assert.equal(p.summarise({ eligible: [], ineligible: [],
      possible: [{ unknown: unknown(["high_tech", "高新"]) }] }), "暂未确定符合的政策；另有 1 项取决于“高新”。");
    assert.equal(p.summarise({ eligible: [{}], possible: [], ineligible: [] }), "已确定符合 1 项。");
    assert.equal(p.summarise({ eligible: [], possible: [], ineligible: [], not_in_force: [{}] }),
      "目前没有可以核对的政策。");
  });

  test("validity as of the check's day", () => {
    const card = { valid_from: "2023-01-01", valid_to: "2027-12-31" };
    assert.equal(p.validityText(card, "2026-12-07"), "2023-01-01 至 2027-12-31");
    assert.equal(p.validityText(card, "2028-01-01"), "已于 2027-12-31 到期");
    assert.equal(p.validityText(card, "2022-12-31"), "尚未施行（2023-01-01 起施行）");
    assert.equal(p.validityText({ valid_from: "2023-01-01", valid_to: null }, "2026-12-07"),
      "2023-01-01 起施行，长期有效");
    assert.equal(p.validityText({}, "2026-12-07"), "长期有效");
  });

  test("the check's day from the address", () => {
    assert.equal(p.dayFromSearch("?date=2026-12-07"), "2026-12-07");
    assert.equal(p.dayFromSearch("?x=1&date=2028-01-01"), "2028-01-01");
    assert.equal(p.dayFromSearch("?date=soon"), null);
    assert.equal(p.dayFromSearch("?date=2026-13-40"), null);
    assert.equal(p.dayFromSearch(""), null);
  });

  test("the source document with its 文号", () => {
    assert.equal(p.sourceText({ document: { title: "关于…的公告", doc_no: "公告2023年第12号" } }),
      "关于…的公告（公告2023年第12号）");
    assert.equal(p.sourceText({ document: { title: "", doc_no: "第8号" } }), "第8号");
    assert.equal(p.sourceText({}), "");
  });

  test("errors in Chinese, with what to do", () => {
    assert.equal(p.errorText({ status: 429, message: "政策体检过于频繁，请30秒后再试。 / Too many requests" }),
      "政策体检过于频繁，请30秒后再试。您填写的内容都还在。");
    assert.equal(p.errorText({ status: 422, message: "从业人数的值“x”不符合格式（integer）。 / employees: bad" }),
      "填写的内容有误：从业人数的值“x”不符合格式（integer）。");
    assert.equal(p.errorText({ status: 0, message: "网络连接失败，请检查网络后重试。" }),
      "网络连接失败，请检查网络后重试。");
    assert.equal(p.errorText({ status: 500, message: "" }), "核对失败，请稍后重试。");
  });
});
