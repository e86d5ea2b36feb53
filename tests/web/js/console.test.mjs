// The pure parts of the staff console: routes, formatting, API errors, live frames, chart axes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { detailText } from "../../../bot/web/console/api.js";
import { labelEvery, niceTicks } from "../../../bot/web/console/charts.js";
import { initials, pct, priorityLabel, readingLines, relTime, satisfactionClass, sentimentLabel } from "../../../bot/web/console/format.js";
import { SESSION_ENDED_CODES, dispatchStaffFrame } from "../../../bot/web/console/live.js";
import { navEntry, parseRoute } from "../../../bot/web/console/router.js";

test("hash routes; anything unknown is the queue", () => {
  assert.deepEqual(parseRoute("#/conversations/abc%2F1"), { name: "conversations", id: "abc/1" });
  assert.deepEqual(parseRoute("#/dashboard"), { name: "dashboard" });
  assert.deepEqual(parseRoute("#/staff"), { name: "staff" });
  assert.deepEqual(parseRoute("#/conversations"), { name: "queue" });
  assert.deepEqual(parseRoute(""), { name: "queue" });
  assert.deepEqual(parseRoute("#/nowhere"), { name: "queue" });
  assert.equal(navEntry({ name: "conversations", id: "x" }), "queue");
  assert.equal(navEntry({ name: "dashboard" }), "dashboard");
});

test("relative times on an injected clock", () => {
  const now = Date.parse("2024-05-10T12:00:00Z");
  const ago = (seconds) => new Date(now - seconds * 1000).toISOString();
  assert.equal(relTime(ago(10), now), "just now");
  assert.equal(relTime(ago(600), now), "10 min ago");
  assert.equal(relTime(ago(3 * 3600), now), "3 h ago");
  assert.equal(relTime(ago(30 * 3600), now), "yesterday");
  assert.equal(relTime(ago(5 * 86400), now), "5 days ago");
  assert.equal(relTime(null, now), "—");
});

test("labels, shares, scores and initials", () => {
  assert.equal(priorityLabel(4), "urgent");
  assert.equal(priorityLabel(9), "9");
  assert.equal(pct(0.256), "26%");
  assert.equal(pct(null), "—");
  assert.deepEqual([4.2, 3, 1].map(satisfactionClass), ["good", "ok", "bad"]);
  assert.deepEqual([-0.5, 0, 0.5, null].map(sentimentLabel), ["negative", "neutral", "positive", "—"]);
  assert.equal(initials("Ada  Lovelace King"), "AL");
  assert.equal(initials(""), "?");
});

test("the server's reason, also for validation errors", () => {
  assert.equal(detailText({ detail: "Wrong username or password" }, 401), "Wrong username or password");
  assert.equal(
    detailText({ detail: [{ loc: ["body", "password"], msg: "too short" }] }, 422),
    "password: too short",
  );
  assert.equal(detailText(null, 502), "The server answered 502.");
});

test("staff frames: conversation changes and typing; anything else is ignored", () => {
  const seen = [];
  const callbacks = { onChange: (f) => seen.push(["change", f.change]), onTyping: (f) => seen.push(["typing", f.who]) };
  dispatchStaffFrame({ type: "conversation", conversation_id: "c", change: "escalated" }, callbacks);
  dispatchStaffFrame({ type: "typing", conversation_id: "c", who: "customer" }, callbacks);
  dispatchStaffFrame({ type: "hello" }, callbacks);
  assert.deepEqual(seen, [
    ["change", "escalated"],
    ["typing", "customer"],
  ]);
  assert.deepEqual(SESSION_ENDED_CODES, [4401, 4403]);
});

test("chart axes: round ticks that cover the range; day labels that do not overlap", () => {
  assert.deepEqual(niceTicks(0, 100), [0, 25, 50, 75, 100]);
  assert.deepEqual(niceTicks(-100, 100), [-100, -50, 0, 50, 100]);
  assert.deepEqual(niceTicks(1, 7), [2, 4, 6]);
  assert.equal(labelEvery(30, 468), 4);
  assert.equal(labelEvery(7, 468), 1);
});

test("readingLines shows what the model read only when it differs from what was typed", () => {
  assert.deepEqual(readingLines(null), []);
  assert.deepEqual(readingLines([{ text: "where is my order", corrections: {} }]), []);
  const corrected = readingLines([{ text: "where is my order", corrections: { wher: "where", oder: "order" }, intent: "track_order", entry_id: "track_order.where" }]);
  assert.equal(corrected.length, 1);
  assert.equal(corrected[0].label, "Read as");
  assert.deepEqual(corrected[0].corrections, ["wher → where", "oder → order"]);
  assert.equal(corrected[0].entry, "track_order.where");
  const split = readingLines([{ text: "how long does delivery take" }, { text: "can I pay with PayPal?", intent: "payment_methods" }]);
  assert.deepEqual(split.map((line) => line.label), ["Question 1", "Question 2"]);
  const followUp = readingLines([{ text: "How long does delivery take? and to Scotland?", topic: "delivery_time.uk" }]);
  assert.equal(followUp[0].topic, "delivery_time.uk");
});
