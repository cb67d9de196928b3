// The pure functions of 免申即享 and 政策推送 as the pages say them (api/static/entitlement_text.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as e from "../../api/static/entitlement_text.js";

describe("a USCC masked for staff lists", () => {
  test("the first 8 and the last 5 of 18", () => {
    assert.equal(e.maskUscc("913101130000A1234X"), "91310113*****1234X");
  });
  test("any other length keeps its first 4 only", () => {
    assert.equal(e.maskUscc("9131011"), "9131***");
    assert.equal(e.maskUscc(""), "");
    assert.equal(e.maskUscc(null), "");
  });
});

describe("why a work item qualifies", () => {
  const fields = { employees: { label: "从业人数", unit: "人" },
    is_individual_business: { label: "是否个体工商户" } };
  test("each fact with its label, value, source and as-of date", () => {
    const why = { facts: { employees: 20, is_individual_business: false },
      sources: { employees: { source: "税务", as_of: "2026-11-01" } } };
    assert.deepEqual(e.whyLines(why, fields),
      ["从业人数 = 20人（税务，2026-11-01）", "是否个体工商户 = 否"]);
  });
  test("a field the dictionary lacks by its name; nothing for no why", () => {
    assert.deepEqual(e.whyLines({ facts: { odd: "x" } }), ["odd = x"]);
    assert.deepEqual(e.whyLines(null), []);
  });
});

describe("hours and titles", () => {
  test("hours with one decimal, 不可用 for nothing measured (never 0)", () => {
    assert.equal(e.hours(5400), "1.5小时");
    assert.equal(e.hours(0), "0.0小时");
    assert.equal(e.hours(null), "不可用");
  });
  test("a notified policy's title from the lists 我的政策 already holds", () => {
    const titles = e.titlesOf({ eligible: [{ id: "a", title: "甲" }],
      possible: [{ id: "b", title: "乙" }], work_items: [{ policy_id: "c", title: "丙" }] });
    assert.deepEqual(titles, { a: "甲", b: "乙", c: "丙" });
  });
});
