// The pure functions of answers linked to 政策体检 policies (api/static/policy_links.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as p from "../../api/static/policy_links.js";

describe("the ids an editor types", () => {
  test("split on Chinese and ASCII separators, each once, in order", () => {
    assert.deepEqual(p.splitIds(" a，b, c、a|d  e "), ["a", "b", "c", "d", "e"]);
    assert.deepEqual(p.splitIds(""), []);
    assert.deepEqual(p.splitIds(null), []);
  });
  test("a suggestion accepted is added once", () => {
    assert.equal(p.addPolicyId("a，b", "c"), "a，b，c");
    assert.equal(p.addPolicyId("a，b", "a"), "a，b");
    assert.equal(p.addPolicyId("", "x"), "x");
  });
  test("a suggestion reads with its 文号 and why", () => {
    assert.equal(p.suggestionText({ id: "x", title: "小微", doc_no: "公告2023年第12号", matched: "doc_no",
      status: "published" }), "小微（公告2023年第12号） · 文号相符");
    assert.equal(p.suggestionText({ id: "x", title: "", matched: "title", status: "draft" }),
      "x · 标题相符 · 尚未发布");
  });
});

describe("the answer card's 看看我是否符合", () => {
  test("a check-up start names policies and no field", () => {
    assert.equal(p.isCheckStart('/policy_fact{"policies":"cit-small"}'), true);
    assert.equal(p.isCheckStart('/policy_fact{"field":"employees","value":"3","policies":"a"}'), false);
    assert.equal(p.isCheckStart('/policy_fact{"field":"employees","value":"3"}'), false);
    assert.equal(p.isCheckStart("/feedback{\"helpful\":\"yes\"}"), false);
    assert.equal(p.isCheckStart("/policy_fact{broken"), false);
    assert.equal(p.isCheckStart(undefined), false);
  });
});

describe("the page's ?policy=", () => {
  test("repeated or comma-separated, valid ids only, each once", () => {
    assert.deepEqual(p.policiesFromSearch("?policy=a&policy=b,c&policy=a"), ["a", "b", "c"]);
    assert.deepEqual(p.policiesFromSearch("?policy=%3Cscript%3E&policy=ok-1"), ["ok-1"]);
    assert.deepEqual(p.policiesFromSearch("?date=2026-01-01"), []);
    assert.deepEqual(p.policiesFromSearch(""), []);
  });
});
