// The pages' pure functions (api/static/format.js) under Node's own test runner:
// `node --test tests/js/` (scripts/lint.sh runs it). The browser's zone is fixed here so the
// times the pages show in it are the same on every machine.
process.env.TZ = "Asia/Shanghai";

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as f from "../../api/static/format.js";

describe("times and days", () => {
  test("a wait in words", () => {
    assert.equal(f.formatWait(null), "");
    assert.equal(f.formatWait(undefined), "");
    assert.equal(f.formatWait(0), "不到1分钟");
    assert.equal(f.formatWait(59), "不到1分钟");
    assert.equal(f.formatWait(60), "约1分钟");
    assert.equal(f.formatWait(150), "约3分钟");  // rounded, not cut
  });

  test("the time of day, in the browser's zone", () => {
    assert.equal(f.formatTime("2026-03-02T01:05:00Z"), "09:05");
    assert.equal(f.formatTime(""), "");
    assert.equal(f.formatTime("not a time"), "");
  });

  test("how long something has waited", () => {
    assert.equal(f.formatAge(0), "-");
    assert.equal(f.formatAge(null), "-");
    assert.equal(f.formatAge(45), "45秒");
    assert.equal(f.formatAge(60), "1分");
    assert.equal(f.formatAge(3599), "59分");
    assert.equal(f.formatAge(3600 + 5 * 60 + 59), "1时5分");
  });

  test("a date and time in the browser's zone, padded", () => {
    assert.equal(f.formatDateTime("2026-01-04T16:07:00Z"), "2026-01-05 00:07");
    assert.equal(f.formatDateTime(""), "");
    assert.equal(f.formatDateTime("soon"), "soon");  // what is not a time is shown as it came
  });

  test("a date and time in the centre's zone, whatever the browser's", () => {
    assert.equal(f.zonedDateTime("2026-01-04T16:07:00Z", "Asia/Shanghai"), "2026-01-05 00:07");
    assert.equal(f.zonedDateTime("2026-01-04T16:07:00Z", "UTC"), "2026-01-04 16:07");
    assert.equal(f.zonedDateTime("2026-01-04T16:07:00Z", "Asia/Shanghai", false), "2026-01-05");
    assert.equal(f.zonedDateTime("", "Asia/Shanghai"), "");
  });

  test("a deadline is the midnight after its last day, shown as that day at 24:00", () => {
    // The API's deadline for a last day of 2026-03-05 (Shanghai) is 2026-03-06 00:00 there.
    assert.equal(f.deadline("2026-03-05T16:00:00Z", "Asia/Shanghai"), "2026-03-05 24:00前");
    assert.equal(f.deadline(null, "Asia/Shanghai"), "");
  });

  test("the centre's calendar day, not the browser's", () => {
    const lateEvening = new Date("2026-03-01T17:30:00Z");  // 01:30 on 2 March in Shanghai
    assert.equal(f.centreDay(0, "Asia/Shanghai", lateEvening), "2026-03-02");
    assert.equal(f.centreDay(0, "UTC", lateEvening), "2026-03-01");
    assert.equal(f.centreDay(29, "Asia/Shanghai", lateEvening), "2026-02-01");
    assert.equal(f.centreDay(1, "Asia/Shanghai", new Date("2024-03-01T04:00:00Z")),
      "2024-02-29");  // across a leap day
  });
});

describe("rates against their targets", () => {
  test("a rate with one decimal, never 0% for nothing counted", () => {
    assert.equal(f.pct(0.9234), "92.3%");
    assert.equal(f.pct(0), "0.0%");
    assert.equal(f.pct(1), "100.0%");
    assert.equal(f.pct(null), "不可用");
    assert.equal(f.pct(undefined), "不可用");
  });

  test("numerator over denominator", () => {
    assert.equal(f.fraction({ numerator: 3, denominator: 4 }), "3 / 4");
    assert.equal(f.fraction(null), "");
  });

  test("durations in seconds or minutes", () => {
    assert.equal(f.minutes(null), "不可用");
    assert.equal(f.minutes(59.4), "59秒");
    assert.equal(f.minutes(90), "1.5分钟");
  });

  test("a target line in words and a verdict against it", () => {
    const atLeast = { value: 0.9, direction: "at_least" };
    const atMost = { value: 0.05, direction: "at_most" };
    assert.equal(f.targetText(atLeast), "目标 ≥ 90%");
    assert.equal(f.targetText(atMost), "目标 ≤ 5%");
    assert.equal(f.targetText(undefined), "");
    assert.deepEqual(f.verdictOf(atLeast, 0.9), { text: "达标", kind: "good" });
    assert.deepEqual(f.verdictOf(atLeast, 0.89), { text: "未达标", kind: "bad" });
    assert.deepEqual(f.verdictOf(atMost, 0.05), { text: "达标", kind: "good" });
    assert.deepEqual(f.verdictOf(atMost, 0.06), { text: "未达标", kind: "bad" });
    assert.deepEqual(f.verdictOf(atLeast, null), { text: "无法判断（不可用）", kind: "" });
    assert.equal(f.verdictOf(undefined, 0.5), null);
  });
});

describe("text", () => {
  test("only http(s) addresses become links; the rest stays text as it came", () => {
    assert.deepEqual(f.splitLinks("见 https://zwdt.sh.gov.cn/a?b=1，或致电"), [
      { text: "见 ", link: false },
      { text: "https://zwdt.sh.gov.cn/a?b=1", link: true },
      { text: "，或致电", link: false },
    ]);
    const hostile = '<img src=x onerror=alert(1)> javascript:alert(1) "http://a.b/"';
    const parts = f.splitLinks(hostile);
    assert.equal(parts.map((p) => p.text).join(""), hostile);  // nothing dropped or escaped away
    assert.deepEqual(parts.filter((p) => p.link).map((p) => p.text), ["http://a.b/"]);
    assert.deepEqual(f.splitLinks(null), []);
    assert.deepEqual(f.splitLinks("http://a.b https://c.d"),
      [{ text: "http://a.b", link: true }, { text: " ", link: false },
        { text: "https://c.d", link: true }]);
  });

  test("field values as the editor's diff shows them", () => {
    const names = { draft: "草稿", published: "已发布" };
    assert.equal(f.shownValue("published", "status", names), "已发布");
    assert.equal(f.shownValue("gone", "status", names), "gone");
    assert.equal(f.shownValue("", "answer"), "（空）");
    assert.equal(f.shownValue(null, "answer"), "（空）");
    assert.equal(f.shownValue([], "tags"), "（空）");
    assert.equal(f.shownValue(["a", "b"], "tags"), "a\nb");
    assert.equal(f.shownValue(true, "long_term"), "是");
    assert.equal(f.shownValue(false, "long_term"), "否");
    assert.equal(f.shownValue(3, "version"), "3");
  });

  test("a view and its argument from the location hash", () => {
    const views = ["list", "edit", "history"];
    assert.deepEqual(f.parseViewHash("#edit/kb%2F001", views), { view: "edit", arg: "kb/001" });
    assert.deepEqual(f.parseViewHash("#history", views), { view: "history", arg: "" });
    assert.deepEqual(f.parseViewHash("", views), { view: "list", arg: "" });
    assert.deepEqual(f.parseViewHash("#nowhere/x", views), { view: "list", arg: "x" });
    assert.deepEqual(f.parseViewHash("#edit/%E0%A4%A", views), { view: "edit", arg: "" });
  });
});

describe("the portal's ticket banner", () => {
  test("the queue: position and wait", () => {
    const t = { channel: "online_helper", status: "queued", department: "区税务局" };
    assert.equal(f.describeTicket({ ...t, queue_position: 1, estimated_wait_s: 30 }),
      "正在为您转接人工帮办（区税务局），您是下一位，预计等待不到1分钟。请不要关闭页面。");
    assert.equal(f.describeTicket({ ...t, queue_position: 3 }),
      "正在为您转接人工帮办（区税务局），您前面还有 2 位。请不要关闭页面。");
    assert.equal(f.describeTicket({ channel: "online_helper", status: "transferred" }),
      "正在为您转接人工帮办（综合窗口）。请不要关闭页面。");
  });

  test("a helper serving, a 12345 call-back, nothing", () => {
    assert.equal(f.describeTicket({ status: "claimed", helper_name: "王帮办" }),
      "人工帮办「王帮办」正在为您服务。");
    assert.equal(f.describeTicket({ status: "in_conversation" }), "人工帮办正在为您服务。");
    assert.match(f.describeTicket({ channel: "hotline_12345", status: "queued" }),
      /^已为您预约12345热线回电（综合窗口）/);
    assert.equal(f.describeTicket({ channel: "hotline_12345", status: "claimed" }),
      "12345热线工作人员正在为您服务。");
    assert.equal(f.describeTicket({ status: "resolved" }), "");
    assert.equal(f.describeTicket(null), "");
  });

  test("a 留言's call-back state", () => {
    assert.equal(f.callbackLine({ call_status: "no_answer" }), "12345回电：未接通，稍后重拨");
    assert.equal(f.callbackLine({ call_status: "new_state" }), "12345回电：new_state");
    assert.equal(f.callbackLine({}), "12345回电：已预约");
  });
});

describe("政策体检 in the console", () => {
  test("a fact given, with its unit; a band; yes/no; a declined one", () => {
    assert.equal(f.factText({ value: 25, unit: "人", type: "integer" }), "25人");
    assert.equal(f.factText({ value: 1500.5, unit: "万元", type: "number" }), "1500.5万元");
    assert.equal(f.factText({ value: { gte: 300, lt: 1000 }, unit: "人" }), "300–1000人");
    assert.equal(f.factText({ value: { gte: 1000 }, unit: "人" }), "1000人及以上");
    assert.equal(f.factText({ value: { gt: 2000 }, unit: "万元" }), "2000万元以上");
    assert.equal(f.factText({ value: { lt: 10 }, unit: "人" }), "10人以下");
    assert.equal(f.factText({ value: { lte: 300 }, unit: "万元" }), "300万元及以下");
    assert.equal(f.factText({ value: true, type: "boolean" }), "是");
    assert.equal(f.factText({ value: false, type: "boolean" }), "否");
    assert.equal(f.factText({ value: "2020-03-15", type: "date" }), "2020-03-15");
    assert.equal(f.factText({ value: "宝山区", type: "text" }), "宝山区");
    assert.equal(f.factText({ value: null, declined: true, unit: "人" }), "不知道/跳过");
    assert.equal(f.factText({ value: 25, declined: true }), "不知道/跳过");
    assert.equal(f.factText({ value: null }), "—");
    assert.equal(f.factText({ value: {} }), "—");
    assert.equal(f.factText(null), "—");
  });

  test("the results in one line", () => {
    assert.equal(f.checkupLine({ eligible: [{}, {}], possible: [{}], ineligible: [] }),
      "已确定符合 2 项 · 可能符合 1 项 · 不符合 0 项");
    assert.equal(f.checkupLine({}), "已确定符合 0 项 · 可能符合 0 项 · 不符合 0 项");
  });
});
