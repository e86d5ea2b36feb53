// Actions in the console, the pure part: where calls show in the transcript, how they read, and
// what is wrong with a lookup's values.
import assert from "node:assert/strict";
import { test } from "node:test";

import { callMeta, callSummary, outcomeLabel, outcomeTone, placeCalls, slotLabel, slotProblems } from "../../../bot/web/console/action-calls.js";

const at = (minute) => `2026-11-30T10:${String(minute).padStart(2, "0")}:00Z`;
const messages = [
  { id: 1, role: "customer", created_at: at(1) },
  { id: 2, role: "bot", created_at: at(1) },
  { id: 3, role: "customer", created_at: at(5) },
  { id: 4, role: "agent", created_at: at(9) },
];

test("a bot's call sits under its message; a person's lookup under the latest message before it", () => {
  const calls = [
    { id: 10, message_id: 1, created_at: at(1) },
    { id: 11, message_id: 3, created_at: at(5) },
    { id: 12, message_id: 3, created_at: at(5) },
    { id: 13, message_id: null, created_at: at(7) },
    { id: 14, message_id: null, created_at: at(0) },
    { id: 15, message_id: 99, created_at: at(8) }, // its message is not in the transcript
  ];
  const placed = placeCalls(messages, calls);
  const ids = (key) => (placed.get(key) || []).map((c) => c.id);
  assert.deepEqual(ids(1), [10]);
  assert.deepEqual(ids(3), [11, 12, 13]);
  assert.deepEqual(ids(null), [14, 15]);
  assert.deepEqual(ids(2), []);
  assert.equal(placeCalls(messages, undefined).size, 0);
});

test("an outcome reads as words and a tone, never as colour alone", () => {
  assert.deepEqual(["found", "not_found", "not_allowed", "failed", "odd"].map(outcomeLabel),
    ["found", "not found", "not allowed", "failed", "odd"]);
  assert.deepEqual(["found", "not_found", "not_allowed", "failed", "odd"].map(outcomeTone),
    ["good", "warn", "warn", "bad", "plain"]);
  const found = { action: "order_status", outcome: "found", status_code: 200, latency_ms: 83.6 };
  assert.equal(callMeta(found), "HTTP 200 · 84 ms");
  assert.equal(callSummary(found), "order_status: found · HTTP 200 · 84 ms");
  const refused = { action: "order_status", outcome: "not_allowed", status_code: null, latency_ms: 0 };
  assert.equal(callMeta(refused), "");
  assert.equal(callSummary(refused), "order_status: not allowed");
});

test("a lookup's values: each slot given, and shaped like its example", () => {
  const lookup = { name: "order_status", slots: [{ name: "order_id", example: "BC-204518", pattern: "BC-?\\d{6}" }] };
  assert.deepEqual(slotProblems(lookup, { order_id: " bc-204518 " }), {});
  assert.deepEqual(slotProblems(lookup, {}), { order_id: "Give the order id, like BC-204518." });
  assert.deepEqual(slotProblems(lookup, { order_id: "204518" }), {
    order_id: "That doesn't look right: it looks like BC-204518.",
  });
  // A pattern JavaScript cannot read is left to the server.
  assert.deepEqual(slotProblems({ slots: [{ name: "x", example: "a", pattern: "(?P<a>a)" }] }, { x: "b" }), {});
  assert.deepEqual(slotProblems(null, {}), {});
  assert.equal(slotLabel("order_id"), "Order id");
});
