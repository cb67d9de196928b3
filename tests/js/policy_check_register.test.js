// The register facts' line on the 政策体检 page (api/static/policy_check_register.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { factLine } from "../../api/static/policy_check_register.js";

test("the authority's value with the enterprise's own word beside it", () => {
  assert.equal(factLine({ shown: "60人", source: "市场监管登记", as_of: "2026-11-01",
    declared: { shown: "62人", source: "企业自报", as_of: "2026-12-07" } }),
  "登记：60人（市场监管登记，2026-11-01）；您填报：62人（企业自报，2026-12-07）");
});

test("a fact only the enterprise gave reads as its own", () => {
  assert.equal(factLine({ shown: "是", source: "对话中填报", as_of: "2026-12-07" }),
    "您填报：是（对话中填报，2026-12-07）");
});
