// The API client (api/static/api.js) without a browser: the errors it makes of the gateway's
// answers, and the delays between a socket's reconnections. `fetch` is replaced per test.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { ApiError, api, reconnectDelays } from "../../api/static/api.js";

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; });

function answer(status, body) {
  globalThis.fetch = async (url, init) => {
    answer.last = { url, init };
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
  };
}

describe("api()", () => {
  test("sends JSON with the session cookie and returns the answer", async () => {
    answer(200, { ok: true });
    assert.deepEqual(await api("POST", "/api/x", { a: 1 }), { ok: true });
    const { init } = answer.last;
    assert.equal(init.credentials, "same-origin");
    assert.equal(init.headers["Content-Type"], "application/json");
    assert.equal(init.body, '{"a":1}');
  });

  test("a file upload goes as it is: the browser sets the multipart type", async () => {
    answer(200, {});
    const form = new FormData();
    await api("POST", "/api/kb/import", form);
    assert.equal(answer.last.init.body, form);
    assert.equal(answer.last.init.headers["Content-Type"], undefined);
  });

  test("the API's error body becomes an ApiError with its code and sentence", async () => {
    const body = { error: { code: "not_your_ticket", message: "工单T1不由您处理。" } };
    answer(403, body);
    await assert.rejects(api("GET", "/api/x"), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 403);
      assert.equal(err.code, "not_your_ticket");
      assert.equal(err.message, "工单T1不由您处理。");
      assert.deepEqual(err.body, body);  // the whole answer, e.g. an import's rows
      return true;
    });
  });

  test("an answer that is not JSON still gives a sentence", async () => {
    answer(502, "<html>Bad Gateway</html>");
    await assert.rejects(api("GET", "/api/x"),
      { status: 502, code: "http_error", message: "请求失败（502）" });
  });

  test("no connection at all", async () => {
    globalThis.fetch = async () => { throw new TypeError("Failed to fetch"); };
    await assert.rejects(api("GET", "/api/x"),
      { status: 0, code: "network", message: "网络连接失败，请检查网络后重试。" });
  });
});

describe("reconnectDelays()", () => {
  test("doubles up to the cap, with ±25 % jitter, and starts again after reset", () => {
    const steady = reconnectDelays(1000, 30000, () => 0.5);  // no jitter
    assert.deepEqual(Array.from({ length: 7 }, () => steady.next()),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    steady.reset();
    assert.equal(steady.next(), 1000);
    assert.equal(reconnectDelays(1000, 30000, () => 0).next(), 750);
    assert.equal(reconnectDelays(1000, 30000, () => 0.999999).next(), 1250);
  });
});
