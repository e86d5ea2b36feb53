import assert from "node:assert/strict";
import { test } from "node:test";

import { staffLive } from "../../../bot/web/console/live.js";
import { FakeWebSocket } from "./fakes.mjs";

test("the console's socket shows its token in a subprotocol, never in the address", async () => {
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = FakeWebSocket;
  try {
    FakeWebSocket.reset();
    const ended = [];
    const live = staffLive({
      token: () => "staff-token_1",
      onConnecting() {},
      onOpen() {},
      onChange() {},
      onTyping() {},
      onLost() {},
      onSessionEnded: () => ended.push(true),
      location: { protocol: "https:", host: "support.example.com" },
    });
    live.connect();
    assert.equal(FakeWebSocket.last.url, "wss://support.example.com/api/staff/ws");
    assert.deepEqual(FakeWebSocket.last.protocols, ["cxagent", "token.staff-token_1"]);
    // A log-out elsewhere closes it with 4401: the console shows the log-in, no retry.
    FakeWebSocket.last.open();
    await FakeWebSocket.last.drop(4401);
    assert.deepEqual(ended, [true]);
    assert.equal(live.active, false);
  } finally {
    globalThis.WebSocket = saved;
  }
});
