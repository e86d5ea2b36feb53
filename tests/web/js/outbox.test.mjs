import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BUSY_GIVE_UP_MS,
  busyTooLong,
  dueOn,
  hasUnsent,
  isValidItem,
  mergeOutboxes,
  newClientId,
  newItem,
  storedItem,
  withBusyRefusal,
  withFailed,
  without,
  withSentOn,
} from "../../../bot/web/widget/outbox.js";

const a = newItem("a", "from this tab", 1);
const b = newItem("b", "from the other tab", 2);
const c = newItem("c", "also from the other tab", 3);

test("merging keeps this tab's items and adds the other tab's, instead of overwriting", () => {
  const merged = mergeOutboxes([a], [b, c], new Set());
  assert.deepEqual(
    merged.map((item) => item.id),
    ["a", "b", "c"],
  );
});

test("merging keeps one copy of an item both tabs hold, this tab's", () => {
  const mine = { ...a, failed: true };
  const merged = mergeOutboxes([mine], [a, b], new Set());
  assert.deepEqual(merged, [mine, b]);
});

test("an item acknowledged here is not brought back by the other tab's stale copy", () => {
  assert.deepEqual(mergeOutboxes([a], [b, c], new Set(["b"])), [a, c]);
});

test("merging ignores a stored outbox that is missing or broken", () => {
  assert.deepEqual(mergeOutboxes([a], undefined, new Set()), [a]);
  assert.deepEqual(mergeOutboxes([a], [null, { id: 3 }, { id: "x", text: "" }, b], new Set()), [a, b]);
  assert.equal(isValidItem({ id: "x", text: "hi" }), true);
});

test("an item goes out once per socket generation, and a failed one waits for a retry", () => {
  let outbox = [a, b];
  outbox = withSentOn(outbox, "a", 1);
  assert.deepEqual(
    dueOn(outbox, 1).map((item) => item.id),
    ["b"],
  );
  assert.deepEqual(
    dueOn(outbox, 2).map((item) => item.id),
    ["a", "b"],
    "a new connection resends what was not acknowledged",
  );
  outbox = withFailed(outbox, "b", true);
  assert.deepEqual(
    dueOn(outbox, 2).map((item) => item.id),
    ["a"],
  );
  outbox = withFailed(without(outbox, "a"), "b", false);
  assert.equal(hasUnsent(outbox), true);
  assert.deepEqual(dueOn(outbox, 1), [{ ...b, sentOn: null }], "a retried item is sent again");
});

test("the functions return new arrays and leave the given one alone", () => {
  const outbox = [a];
  withFailed(outbox, "a", true);
  withSentOn(outbox, "a", 3);
  without(outbox, "a");
  assert.deepEqual(outbox, [a]);
});

test("the stored form drops per-page fields", () => {
  assert.deepEqual(storedItem({ ...a, sentOn: 4 }), { id: "a", text: "from this tab", at: 1, failed: false });
});

test("client ids are v4 UUIDs, also without randomUUID (insecure contexts)", () => {
  const fallback = { getRandomValues: (bytes) => bytes.fill(0xff) };
  assert.equal(newClientId(fallback), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  assert.match(newClientId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test("a message refused as busy stays due until refused for too long, counted from the first refusal", () => {
  let outbox = withSentOn([a, b], "a", 1);
  outbox = withBusyRefusal(outbox, "a", 1000);
  assert.deepEqual(
    dueOn(outbox, 1).map((item) => item.id),
    ["a", "b"],
    "a refused item goes out again on the same socket",
  );
  outbox = withBusyRefusal(outbox, "a", 1000 + BUSY_GIVE_UP_MS - 1);
  const [refused] = outbox;
  assert.equal(refused.busySince, 1000, "later refusals keep the first one's time");
  assert.equal(busyTooLong(refused, 1000 + BUSY_GIVE_UP_MS - 1), false);
  assert.equal(busyTooLong(refused, 1000 + BUSY_GIVE_UP_MS), true);
  assert.equal(busyTooLong(outbox[1], Number.MAX_SAFE_INTEGER), false, "never refused: never too long");
  const retried = withFailed(withFailed(outbox, "a", true), "a", false)[0];
  assert.deepEqual(retried, { ...a, sentOn: null }, "the customer's retry starts the count over");
  assert.equal(storedItem(refused).busySince, undefined, "a page's refusals are not stored");
});
