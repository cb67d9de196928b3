// The workbench's 申请表字段 (api/static/editor_policy_fields.js): its pure parts under Node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { formOf, keyFor, moved } from "../../api/static/editor_policy_fields.js";

describe("formOf", () => {
  test("drops empty rows, trims, leaves defaults out", () => {
    const rows = [
      { key: " employees ", label: "从业人数", fact: "employees", required: true, help: " " },
      { key: "", label: "", fact: "", required: false, help: "" },
      { key: "contact", label: " 联系人 ", fact: "", required: false, help: "经办人" },
    ];
    assert.deepEqual(formOf(rows), [
      { key: "employees", label: "从业人数", fact: "employees", required: true },
      { key: "contact", label: "联系人", help: "经办人" },
    ]);
  });
});

describe("moved", () => {
  const rows = [{ key: "a" }, { key: "b" }, { key: "c" }];
  test("swaps with the neighbour", () => {
    assert.deepEqual(moved(rows, 1, -1).map((r) => r.key), ["b", "a", "c"]);
    assert.deepEqual(moved(rows, 1, 1).map((r) => r.key), ["a", "c", "b"]);
  });
  test("stays put at either end, never changing its input", () => {
    assert.deepEqual(moved(rows, 0, -1).map((r) => r.key), ["a", "b", "c"]);
    assert.deepEqual(moved(rows, 2, 1).map((r) => r.key), ["a", "b", "c"]);
    assert.deepEqual(rows.map((r) => r.key), ["a", "b", "c"]);
  });
});

describe("keyFor", () => {
  test("the fact's name, numbered when taken", () => {
    assert.equal(keyFor("employees", []), "employees");
    assert.equal(keyFor("employees", [{ key: "employees" }, { key: "employees_2" }]), "employees_3");
  });
});
