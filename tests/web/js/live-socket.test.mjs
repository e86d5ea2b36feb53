import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { backoff } from "../../../bot/web/shared/backoff.js";
import { liveSocket } from "../../../bot/web/shared/live-socket.js";
import { FakeTimers, FakeWebSocket } from "./fakes.mjs";

let timers;
let events;

function socket(overrides = {}) {
  return liveSocket({
    url: () => "ws://service/live",
    backoff: backoff({ minMs: 100, maxMs: 400, random: () => 0 }),
    onConnecting: ({ generation }) => events.push(["connecting", generation]),
    onOpen: ({ generation }) => events.push(["open", generation]),
    onFrame: (frame) => events.push(["frame", frame]),
    onClose: ({ code, opened }) => events.push(["close", code, opened]),
    WebSocketImpl: FakeWebSocket,
    timers,
    ...overrides,
  });
}

beforeEach(() => {
  FakeWebSocket.reset();
  timers = new FakeTimers();
  events = [];
});

test("frames arrive parsed; what is not a JSON object is ignored", () => {
  const live = socket();
  live.connect();
  FakeWebSocket.last.open();
  FakeWebSocket.last.frame({ type: "status", status: "waiting" });
  FakeWebSocket.last.frame("not json");
  FakeWebSocket.last.frame("42");
  assert.deepEqual(events, [
    ["connecting", 1],
    ["open", 1],
    ["frame", { type: "status", status: "waiting" }],
  ]);
});

test("after a drop it reconnects with a growing delay, and an open resets the delay", async () => {
  const live = socket();
  live.connect();
  await FakeWebSocket.last.drop(); // never opened
  assert.deepEqual(timers.pending, [100]);
  timers.advance(100);
  assert.equal(FakeWebSocket.made.length, 2);
  await FakeWebSocket.last.drop();
  assert.deepEqual(timers.pending, [200]);
  timers.advance(200);
  FakeWebSocket.last.open();
  await FakeWebSocket.last.drop();
  assert.deepEqual(timers.pending, [100], "an open connection starts the back-off again");
  assert.deepEqual(
    events.filter(([kind]) => kind === "close"),
    [
      ["close", 1006, false],
      ["close", 1006, false],
      ["close", 1006, true],
    ],
  );
});

test("stop() means no socket and no retry, also when called from the close callback", async () => {
  const live = socket({ onClose: () => live.stop() });
  live.connect();
  FakeWebSocket.last.open();
  await FakeWebSocket.last.drop(4404);
  assert.deepEqual(timers.pending, []);
  assert.equal(live.active, false);
  live.connect();
  assert.equal(FakeWebSocket.made.length, 2, "connect() after stop() starts again");
});

test("drop() abandons the socket without a close callback; the caller decides to retry", () => {
  const live = socket();
  live.connect();
  const first = FakeWebSocket.last;
  first.open();
  live.drop();
  assert.equal(first.closed, true);
  assert.equal(live.hasSocket, false);
  first.frame({ type: "late" }); // a frame from the abandoned socket is not delivered
  assert.equal(events.some(([kind]) => kind === "frame" || kind === "close"), false);
  live.retryLater();
  timers.advance(100);
  assert.equal(FakeWebSocket.made.length, 2);
});

test("send() only on an open socket; generations count sockets", () => {
  const live = socket();
  assert.equal(live.send({ type: "typing" }), false);
  live.connect();
  assert.equal(live.send({ type: "typing" }), false, "still opening");
  FakeWebSocket.last.open();
  assert.equal(live.send({ type: "typing" }), true);
  assert.deepEqual(FakeWebSocket.last.sent, [{ type: "typing" }]);
  live.drop();
  live.reconnectNow();
  assert.equal(live.generation, 2);
  live.connect();
  assert.equal(FakeWebSocket.made.length, 2, "one socket at a time");
});
