// Messages by id (api/static/timeline.js): what the portal and the console show after their
// socket comes back — every message once, in the record's order, nothing said meanwhile lost.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createTimeline, insertionIndex, messageId, unseen } from "../../api/static/timeline.js";

const m = (id, text = "m" + id) => ({ id, role: "user", text });

describe("messageId()", () => {
  test("the record's key, as id or as the console's pk", () => {
    assert.equal(messageId({ id: 7 }), 7);
    assert.equal(messageId({ pk: 8 }), 8);
    assert.equal(messageId({ id: "9" }), 9);
  });

  test("a line that is not in the record has none", () => {
    for (const line of [{ role: "notice", text: "x" }, { id: 0 }, { id: -1 }, { id: "" },
      { id: null }, { id: 1.5 }, { id: "abc" }, null, undefined]) {
      assert.equal(messageId(line), null, JSON.stringify(line));
    }
  });
});

describe("unseen()", () => {
  test("only what is not shown, each id once, in the record's order", () => {
    const shown = new Set([1, 2, 4]);
    const incoming = [m(5), m(2), m(3), m(5), m(6), m(3), m(1)];
    assert.deepEqual(unseen(shown, incoming).map(messageId), [3, 5, 6]);
  });

  test("lines without an id follow, in their order of arrival", () => {
    const notice = { role: "notice", text: "n" };
    const error = { role: "error", text: "e" };
    assert.deepEqual(unseen(new Set(), [notice, m(3), error, m(2)]), [m(2), m(3), notice, error]);
  });

  test("nothing, or nothing new", () => {
    assert.deepEqual(unseen(new Set([1]), []), []);
    assert.deepEqual(unseen(new Set([1]), undefined), []);
    assert.deepEqual(unseen(new Set([1, 2]), [m(2), m(1)]), []);
  });
});

describe("insertionIndex()", () => {
  test("before the first line with a greater id", () => {
    assert.equal(insertionIndex([1, 3, 5], 4), 2);
    assert.equal(insertionIndex([1, 3, 5], 0), 0);
  });

  test("at the end (-1) when none is greater, or the list is empty", () => {
    assert.equal(insertionIndex([1, 3, 5], 6), -1);
    assert.equal(insertionIndex([], 1), -1);
  });

  test("lines without an id stay where they are", () => {
    // history, the "以上是您之前的对话记录" notice, then a live line
    assert.equal(insertionIndex([1, 2, null, 5], 3), 3);
    assert.equal(insertionIndex([1, 2, null], 3), -1);
    assert.equal(insertionIndex([null, null], 3), -1);
  });

  test("a line without an id goes at the end", () => {
    assert.equal(insertionIndex([1, 2], null), -1);
  });
});

// The page: its lines (ids in page order) and a timeline, as chat.js and console_workspace.js
// keep them; ``show`` draws one line as they do.
function page() {
  const lines = [];
  const timeline = createTimeline();
  return {
    lines,
    timeline,
    show(message, live = true) {
      if (!timeline.add(message, live)) return false;
      const id = messageId(message);
      const at = insertionIndex(lines, id);
      if (at >= 0) lines.splice(at, 0, id); else lines.push(id);
      return true;
    },
    catchUp(record, complete) {
      const after = timeline.from();
      const got = record.filter((x) => x.id > after);
      unseen(timeline.shownIds(), got).forEach((x) => this.show(x));
      timeline.caughtUp(got, complete);
      return after;
    },
  };
}

describe("createTimeline()", () => {
  test("an id is shown once, a line without one always", () => {
    const t = createTimeline();
    assert.equal(t.add(m(1)), true);
    assert.equal(t.add(m(1)), false);
    assert.equal(t.add({ role: "notice", text: "x" }), true);
    assert.equal(t.add({ role: "notice", text: "x" }), true);
    assert.equal(t.has(m(1)), true);
    assert.equal(t.has(m(2)), false);
  });

  test("re-reads after the last message shown", () => {
    const t = createTimeline();
    assert.equal(t.from(), 0);
    [m(3), m(1), m(7)].forEach((x) => t.add(x));
    assert.equal(t.from(), 7);
  });

  test("a drop keeps where the page was, whatever it shows before the socket is back", () => {
    const t = createTimeline();
    t.add(m(10));
    t.dropped();
    t.add(m(20), true);  // the reply to a message sent over the socket just before
    t.dropped();         // a second close before the re-read: still from 10
    assert.equal(t.from(), 10);
    t.caughtUp([m(15), m(20), m(21)], false);  // the re-read on open: the subscription may lag
    assert.equal(t.from(), 10);
    t.caughtUp([m(15), m(20), m(21), m(22)], true);  // the re-read once it is subscribed
    assert.equal(t.from(), 22);
  });

  test("a REST reply while the socket is down moves no cursor", () => {
    const t = createTimeline();
    t.add(m(5));
    t.add(m(9), false);
    assert.equal(t.from(), 5);
    assert.equal(t.add(m(9)), false);  // shown already, once
    assert.equal(t.from(), 9);
  });

  test("reset: another ticket on screen", () => {
    const t = createTimeline();
    t.add(m(5));
    t.dropped();
    t.reset();
    assert.equal(t.from(), 0);
    assert.equal(t.has(m(5)), false);
  });

  test("after a drop every message shows exactly once, in order", () => {
    const record = [];
    const say = (text) => { const x = m(record.length + 1, text); record.push(x); return x; };
    const p = page();
    [say("你好"), say("您好")].forEach((x) => p.show(x));
    p.lines.push(null);  // a notice of the page's own
    p.timeline.dropped();
    // Said while away: two from the other side, then one sent by REST from this page.
    say("helper 1");
    say("helper 2");
    p.show(say("我在"), false);
    const later = say("helper 3");
    assert.equal(p.catchUp(record, false), 2);
    p.show(later);  // the live push of one the re-read already drew
    const last = say("helper 4");
    p.show(last);   // live, after the subscription is back
    p.catchUp(record, true);
    assert.deepEqual(p.lines.filter((id) => id !== null), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(p.timeline.from(), 7);
    assert.equal(p.catchUp(record, true), 7);  // nothing more
    assert.deepEqual(p.lines.filter((id) => id !== null), [1, 2, 3, 4, 5, 6, 7]);
  });
});
