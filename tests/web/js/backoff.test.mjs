import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff, JITTER } from "../../../bot/web/shared/backoff.js";

test("the delay doubles from the minimum up to the cap", () => {
  const policy = backoff({ minMs: 500, maxMs: 4000, random: () => 0 });
  const delays = Array.from({ length: 6 }, () => policy.next());
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000, 4000]);
});

test("jitter only ever lengthens a delay, by at most JITTER", () => {
  const longest = backoff({ minMs: 1000, maxMs: 1000, random: () => 0.999999 }).next();
  assert.ok(longest > 1000 && longest <= 1000 * (1 + JITTER));
  const shortest = backoff({ minMs: 1000, maxMs: 1000, random: () => 0 }).next();
  assert.equal(shortest, 1000);
});

test("reset starts again from the minimum", () => {
  const policy = backoff({ minMs: 100, maxMs: 10000, random: () => 0 });
  policy.next();
  policy.next();
  policy.next();
  policy.reset();
  assert.equal(policy.next(), 100);
});

test("a policy that makes no sense is refused with its numbers", () => {
  assert.throws(() => backoff({ minMs: 0, maxMs: 10 }), /minMs=0, maxMs=10/);
  assert.throws(() => backoff({ minMs: 500, maxMs: 100 }), /minMs=500, maxMs=100/);
});
