import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { backoff, JITTER } from "../../../bot/web/shared/backoff.js";
import { conversationSocket, dispatchFrame, retryDelayMs } from "../../../bot/web/widget/transport.js";
import { FakeTimers, FakeWebSocket } from "./fakes.mjs";

function recorder() {
  const calls = [];
  const callbacks = {};
  for (const name of ["onTyping", "onAck", "onReply", "onMessage", "onStatus", "onRejected", "onBusy", "onWaitOver"]) {
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
  dispatchFrame({ type: "error", detail: "busy", client_message_id: "c8", retry_after: 2 }, callbacks);
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
    ["onBusy", "c8", 2000],
  ]);
});

let timers;
beforeEach(() => {
  FakeWebSocket.reset();
  timers = new FakeTimers();
});

function widgetSocket(conversation, closes, overrides = {}) {
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
    random: () => 0,
    ...callbacks,
    ...overrides,
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

test("retry_after is read as seconds, kept within 1 to 30, and only when it is a number", () => {
  assert.equal(retryDelayMs({ retry_after: 2 }), 2000);
  assert.equal(retryDelayMs({ retry_after: 0.5 }), 1000, "never a tight loop of resends");
  assert.equal(retryDelayMs({ retry_after: 3600 }), 30000, "never a message held for an hour");
  assert.equal(retryDelayMs({}), null);
  assert.equal(retryDelayMs({ retry_after: "2" }), null);
  assert.equal(retryDelayMs({ retry_after: null }), null);
});

test("an error frame without a client id is a rejection even with retry_after", () => {
  const { calls, callbacks } = recorder();
  dispatchFrame({ type: "error", detail: "the service is busy", retry_after: 2 }, callbacks);
  assert.deepEqual(calls, [["onRejected", null, "the service is busy"]]);
});

const hello = { id: "c1", text: "hello" };
const later = { id: "c2", text: "and another thing" };
const BUSY = { type: "error", detail: "the service is busy; nothing was stored, please retry" };

/** An open widget socket whose onWaitOver sends `due` again, as the app sends its outbox. */
function openSocketResending(due, overrides = {}) {
  const { socket, calls } = widgetSocket({ current: { id: "c", token: "t" } }, [], {
    ...overrides,
    onWaitOver: () => {
      calls.push(["onWaitOver"]);
      for (const item of due) socket.sendMessage(item);
    },
  });
  socket.connect();
  FakeWebSocket.last.open();
  return { socket, calls, ws: FakeWebSocket.last };
}

const messageIds = (ws) => ws.sent.filter((frame) => frame.type === "message").map((f) => f.client_message_id);

test("a busy refusal holds messages back for retry_after, then they go again, same id, in order", () => {
  const { socket, calls, ws } = openSocketResending([hello, later]);
  assert.equal(socket.sendMessage(hello), true);
  ws.frame({ ...BUSY, client_message_id: "c1", retry_after: 2 });
  assert.deepEqual(calls, [["onOpen"], ["onBusy", "c1"]], "pending, not rejected (no Retry button)");

  assert.equal(socket.sendMessage(later), false, "a later message waits too, so it cannot overtake");
  timers.advance(1999);
  assert.deepEqual(messageIds(ws), ["c1"]);
  timers.advance(1);
  assert.deepEqual(calls.at(-1), ["onWaitOver"]);
  assert.deepEqual(messageIds(ws), ["c1", "c1", "c2"]);
  assert.equal(socket.sendMessage({ id: "c3", text: "x" }), true, "the wait is over");
});

test("the busy wait is spread: up to JITTER longer than retry_after, never shorter", () => {
  const { socket, calls, ws } = openSocketResending([hello], { random: () => 0.5 });
  socket.sendMessage(hello);
  ws.frame({ ...BUSY, client_message_id: "c1", retry_after: 2 });
  timers.advance(2000 * (1 + 0.5 * JITTER) - 1);
  assert.deepEqual(messageIds(ws), ["c1"], "not yet: the customers refused together go apart");
  timers.advance(1);
  assert.deepEqual(calls.at(-1), ["onWaitOver"]);
  assert.deepEqual(messageIds(ws), ["c1", "c1"]);
});

test("a refusal without retry_after is final: rejected, nothing held, nothing resent", () => {
  const { socket, calls, ws } = openSocketResending([hello]);
  socket.sendMessage(hello);
  ws.frame({ type: "error", detail: "too long", client_message_id: "c1" });
  assert.deepEqual(calls, [["onOpen"], ["onRejected", "c1", "too long"]]);
  timers.advance(60000);
  assert.deepEqual(messageIds(ws), ["c1"]);
  assert.equal(socket.sendMessage(later), true);
});

test("the wait ends early with the socket: a new one sends at once, and stop() cancels it", async () => {
  const { socket, calls, ws } = openSocketResending([hello]);
  socket.sendMessage(hello);
  ws.frame({ ...BUSY, client_message_id: "c1", retry_after: 5 });
  await ws.drop();
  timers.advance(500); // the reconnect's back-off
  FakeWebSocket.last.open();
  assert.equal(socket.sendMessage(hello), true, "the new socket's open sends what is due");

  FakeWebSocket.last.frame({ ...BUSY, client_message_id: "c1", retry_after: 5 });
  socket.stop();
  timers.advance(60000);
  assert.deepEqual(calls.at(-1), ["onBusy", "c1"], "no onWaitOver after stop()");
});
