// The condition builder's sentence (api/static/policy_sentence.js) under Node's own runner:
// every operator, every group, nesting, and what is not finished yet.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as s from "../../api/static/policy_sentence.js";

const FIELDS = [
  { name: "employees", type: "integer", label: "从业人数", unit: "人" },
  { name: "revenue", type: "number", label: "上年营业收入", unit: "万元" },
  { name: "founded_on", type: "date", label: "成立日期" },
  { name: "high_tech", type: "boolean", label: "有效期内高新技术企业" },
  { name: "industry", type: "code", label: "所属行业" },
  { name: "district", type: "text", label: "注册地所在区" },
];
const atom = (field, op, value) => ({ field, op, value });

describe("atoms", () => {
  test("every operator in Chinese, with the unit", () => {
    const read = (op, value, field = "employees") => s.atomSentence(atom(field, op, value), FIELDS);
    assert.equal(read("le", 300), "从业人数不超过300人");
    assert.equal(read("lt", 300), "从业人数低于300人");
    assert.equal(read("gt", 300), "从业人数超过300人");
    assert.equal(read("ge", 300), "从业人数不低于300人");
    assert.equal(read("eq", 300), "从业人数为300人");
    assert.equal(read("ne", 300), "从业人数不为300人");
    assert.equal(read("between", [100, 2000], "revenue"), "上年营业收入介于100万元至2000万元之间（含两端）");
    assert.equal(read("is_true", null, "high_tech"), "有效期内高新技术企业为“是”");
    assert.equal(read("is_false", null, "high_tech"), "有效期内高新技术企业为“否”");
    assert.equal(read("has_prefix", ["C", "I65"], "industry"), "所属行业代码开头为C（制造业）、I65");
    assert.equal(read("in", ["宝山区", "嘉定区"], "district"), "注册地所在区属于宝山区、嘉定区");
    assert.equal(read("not_in", ["宝山区"], "district"), "注册地所在区不属于宝山区");
  });

  test("dates read as earlier and later", () => {
    assert.equal(s.atomSentence(atom("founded_on", "ge", "2020-01-01"), FIELDS), "成立日期不早于2020-01-01");
    assert.equal(s.atomSentence(atom("founded_on", "lt", "2020-01-01"), FIELDS), "成立日期早于2020-01-01");
  });

  test("an unfinished atom says what is missing", () => {
    assert.equal(s.atomSentence({}, FIELDS), "（未选择字段）");
    assert.equal(s.atomSentence({ field: "employees" }, FIELDS), "从业人数（未选择条件）");
    assert.equal(s.atomSentence(atom("employees", "le", ""), FIELDS), "从业人数不超过…");
    assert.equal(s.atomSentence(atom("revenue", "between", [100, null]), FIELDS),
      "上年营业收入介于100万元至…万元之间（含两端）");
    assert.equal(s.atomSentence(atom("nope", "eq", 1), FIELDS), "nope为1");
  });
});

describe("groups", () => {
  test("全部满足, 任一满足, 除外 and 至少满足 k 项 in one sentence", () => {
    const tree = { all: [atom("employees", "le", 300), { any: [atom("high_tech", "is_true"),
      atom("revenue", "ge", 2000)] }, { not: atom("district", "eq", "崇明区") }] };
    assert.equal(s.conditionSentence(tree, FIELDS),
      "符合条件：从业人数不超过300人，且（有效期内高新技术企业为“是”，或上年营业收入不低于2000万元），" +
      "且不属于“注册地所在区为崇明区”的情形。");
    const some = { at_least: { k: 2, of: [atom("employees", "le", 300), atom("high_tech", "is_true"),
      atom("revenue", "ge", 100)] } };
    assert.equal(s.conditionSentence(some, FIELDS),
      "符合条件：以下3项中至少满足2项：从业人数不超过300人；有效期内高新技术企业为“是”；上年营业收入不低于100万元。");
  });

  test("a group of one reads as its part; nothing reads as no condition", () => {
    assert.equal(s.conditionSentence({ all: [atom("employees", "le", 300)] }, FIELDS),
      "符合条件：从业人数不超过300人。");
    assert.equal(s.conditionSentence(null, FIELDS), "未设置条件：所有企业都符合。");
    assert.equal(s.conditionSentence({ all: [] }, FIELDS), "未设置条件：所有企业都符合。");
    assert.equal(s.nodeSentence({ any: [] }, FIELDS), "（空条件组）");
  });
});

describe("the builder's choices", () => {
  test("operators by field type, and what their value holds", () => {
    assert.deepEqual(s.opsFor("boolean"), ["is_true", "is_false"]);
    assert.ok(s.opsFor("integer").includes("between"));
    assert.ok(s.opsFor("code").includes("has_prefix"));
    assert.ok(!s.opsFor("choice").includes("lt"));
    assert.equal(s.OPS.has_prefix, "代码开头为");
    assert.equal(s.valueKind("between"), "pair");
    assert.equal(s.valueKind("in"), "list");
    assert.equal(s.valueKind("is_true"), "none");
    assert.equal(s.valueKind("le"), "one");
    assert.deepEqual(s.splitList("C、I65, E ；F"), ["C", "I65", "E", "F"]);
    assert.equal(Object.keys(s.INDUSTRY_SECTIONS).join(""), "ABCDEFGHIJKLMNOPQRST");
    assert.equal(s.codeShown("I"), "I（信息传输、软件和信息技术服务业）");
    assert.equal(s.codeShown("I6510"), "I6510");
  });
});
