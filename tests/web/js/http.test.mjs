import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { parseJSON, requestJSON } from "../../../bot/web/shared/http.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

function fakeFetch(status, text) {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init });
    return { ok: status >= 200 && status < 300, status, text: async () => text };
  };
  return calls;
}

test("parseJSON gives null for empty or broken text", () => {
  assert.equal(parseJSON(""), null);
  assert.equal(parseJSON("{oops"), null);
  assert.deepEqual(parseJSON('{"a": 1}'), { a: 1 });
});

test("a JSON body, the bearer token and the parsed answer", async () => {
  const calls = fakeFetch(200, '{"conversation_id": "c1"}');
  const res = await requestJSON("POST", "/api/conversations", { body: { channel: "web" }, token: "t0k" });
  assert.deepEqual(res, { ok: true, status: 200, data: { conversation_id: "c1" } });
  const { init } = calls[0];
  assert.equal(init.method, "POST");
  assert.equal(init.body, '{"channel":"web"}');
  assert.equal(init.headers.Authorization, "Bearer t0k");
  assert.equal(init.headers["Content-Type"], "application/json");
});

test("no body, no content type; a 204 or a non-JSON error page gives data null", async () => {
  const calls = fakeFetch(204, "");
  assert.deepEqual(await requestJSON("GET", "/x"), { ok: true, status: 204, data: null });
  assert.equal(calls[0].init.headers["Content-Type"], undefined);
  assert.equal(calls[0].init.headers.Authorization, undefined);
  fakeFetch(502, "<html>Bad gateway</html>");
  assert.deepEqual(await requestJSON("GET", "/x"), { ok: false, status: 502, data: null });
});
