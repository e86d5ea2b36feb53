import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { backoff } from "../../../bot/web/shared/backoff.js";
import { conversationSocket, dispatchFrame } from "../../../bot/web/widget/transport.js";
import { FakeTimers, FakeWebSocket } from "./fakes.mjs";

function recorder() {
  const calls = [];
  const callbacks = {};
  for (const name of ["onTyping", "onAck", "onReply", "onMessage", "onStatus", "onRejected"]) {
    callbacks[name] = (...args) => calls.push([name, ...args]);
  }
  return { calls, callbacks };
}

test("each server frame reaches its callback (docs/live-api.md)", () => {
  const { calls, callbacks } = recorder();
  const message = { id: 7, role: "bot", text: "Hi" };
  dispatchFrame({ type: "typing", who: "agent", name: "Sam" }, callbacks);
  dispatchFrame({ type: "typing" }, callbacks);
  dispatchFrame({ type: "ack", message }, callbacks);
  dispatchFrame({ type: "reply", message }, callbacks);
  dispatchFrame({ type: "message", message }, callbacks);
  dispatchFrame({ type: "status", status: "with_agent", agent: "Sam" }, callbacks);
  dispatchFrame({ type: "status", status: "bot" }, callbacks);
  dispatchFrame({ type: "error", detail: "too long", client_message_id: "c9" }, callbacks);
  dispatchFrame({ type: "something-new" }, callbacks);
  assert.deepEqual(calls, [
    ["onTyping", { who: "agent", name: "Sam" }],
    ["onTyping", { who: "bot", name: null }],
    ["onAck", message],
    ["onReply", message],
    ["onMessage", message],
    ["onStatus", "with_agent", "Sam"],
    ["onStatus", "bot", null],
    ["onRejected", "c9", "too long"],
  ]);
});

let timers;
beforeEach(() => {
  FakeWebSocket.reset();
  timers = new FakeTimers();
});

function widgetSocket(conversation, closes) {
  const { calls, callbacks } = recorder();
  const socket = conversationSocket({
    wsBase: "wss://support.example.com",
    conversation: () => conversation.current,
    backoff: backoff({ minMs: 500, maxMs: 10000, random: () => 0 }),
    onConnecting: () => {},
    onOpen: () => calls.push(["onOpen"]),
    onClose: (event) => closes.push(event),
    WebSocketImpl: FakeWebSocket,
    timers,
    ...callbacks,
  });
  return { socket, calls };
}

test("it follows the current conversation, token in a subprotocol, frames to callbacks", () => {
  const conversation = { current: null };
  const { socket, calls } = widgetSocket(conversation, []);
  socket.follow();
  assert.equal(FakeWebSocket.made.length, 0, "no conversation, no socket");
  conversation.current = { id: "a b", token: "t-k_1" };
  socket.follow();
  // Never in the address, which access logs and proxies keep.
  assert.equal(FakeWebSocket.last.url, "wss://support.example.com/api/conversations/a%20b/ws");
  assert.deepEqual(FakeWebSocket.last.protocols, ["cxagent", "token.t-k_1"]);
  FakeWebSocket.last.open();
  FakeWebSocket.last.frame({ type: "status", status: "waiting", agent: null });
  assert.deepEqual(calls, [["onOpen"], ["onStatus", "waiting", null]]);
  assert.equal(socket.sendMessage({ id: "c1", text: "hello" }), true);
  socket.sendTyping();
  assert.deepEqual(FakeWebSocket.last.sent, [
    { type: "message", text: "hello", client_message_id: "c1" },
    { type: "typing" },
  ]);
});

test("a close with 4403 or 4404 says the conversation is gone", async () => {
  const closes = [];
  const { socket } = widgetSocket({ current: { id: "c", token: "t" } }, closes);
  socket.connect();
  FakeWebSocket.last.open();
  await FakeWebSocket.last.drop(4404);
  socket.connect();
  await FakeWebSocket.last.drop(1006);
  assert.deepEqual(closes, [
    { code: 4404, opened: true, gone: true },
    { code: 1006, opened: false, gone: false },
  ]);
});

test("after a network drop it retries on the back-off until it is stopped", async () => {
  const { socket } = widgetSocket({ current: { id: "c", token: "t" } }, []);
  socket.connect();
  FakeWebSocket.last.open();
  await FakeWebSocket.last.drop();
  timers.advance(500);
  assert.equal(FakeWebSocket.made.length, 2);
  await FakeWebSocket.last.drop();
  socket.stop();
  timers.advance(60000);
  assert.equal(FakeWebSocket.made.length, 2);
});
