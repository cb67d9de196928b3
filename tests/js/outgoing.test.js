// The portal's message on its way out (api/static/outgoing.js): one id through its resends, and
// which failures keep the text for a resend.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError } from "../../api/static/api.js";
import { SEND_FAILED, createOutgoing, isSendFailure } from "../../api/static/outgoing.js";

describe("createOutgoing()", () => {
  test("a resend of the same text after a failure carries the same id", () => {
    const outgoing = createOutgoing();
    const first = outgoing.idFor("怎么办理营业执照");
    assert.match(first, /^m-[A-Za-z0-9-]{8,60}$/);  // what the gateway accepts (MESSAGE_ID)
    assert.equal(outgoing.idFor("怎么办理营业执照"), first);
  });

  test("another text, or the next message once sent, gets a new id", () => {
    const outgoing = createOutgoing();
    const first = outgoing.idFor("a");
    const edited = outgoing.idFor("b");
    assert.notEqual(edited, first);
    outgoing.sent();
    assert.notEqual(outgoing.idFor("b"), edited);
  });

  test("ids from a given random source", () => {
    let n = 0;
    const outgoing = createOutgoing(() => (n++ % 7) / 7);
    const id = outgoing.idFor("x");
    assert.match(id, /^m-[0-9a-f]{32}$/);
  });
});

describe("isSendFailure()", () => {
  test("no answer, a server failure and the gateway's send_failed are sent again", () => {
    for (const err of [new ApiError(0, "network", "x"), new ApiError(503, "send_failed", "x"),
      new ApiError(503, "database_unavailable", "x"), new ApiError(500, "internal_error", "x"),
      new ApiError(502, "http_error", "x"), new ApiError(400, "send_failed", "x")]) {
      assert.equal(isSendFailure(err), true, err.code);
    }
  });

  test("refusals are told as they are", () => {
    for (const err of [new ApiError(413, "message_too_long", "x"), new ApiError(429, "rate_limited", "x"),
      new ApiError(400, "empty_message", "x"), new ApiError(422, "invalid_request", "x"),
      new ApiError(503, "bot_unavailable", "您的消息已保存"), null]) {
      assert.equal(isSendFailure(err), false, err && err.code);
    }
  });

  test("the sentence the page shows", () => {
    assert.match(SEND_FAILED, /^发送失败，请重试/);
  });
});
