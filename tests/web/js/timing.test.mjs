import assert from "node:assert/strict";
import { test } from "node:test";

import { atMostEvery, debounce } from "../../../bot/web/shared/timing.js";
import { FakeTimers } from "./fakes.mjs";

test("atMostEvery lets one call through per interval", () => {
  let now = 1000;
  const gate = atMostEvery(3000, () => now);
  assert.equal(gate(), true);
  now += 2999;
  assert.equal(gate(), false);
  now += 1;
  assert.equal(gate(), true);
  gate.reset();
  assert.equal(gate(), true);
});

test("debounce calls once, with the last arguments, after calls pause", () => {
  const timers = new FakeTimers();
  const calls = [];
  const reload = debounce((...args) => calls.push(args), 300, timers);
  reload(1);
  timers.advance(200);
  reload(2);
  timers.advance(299);
  assert.deepEqual(calls, []);
  timers.advance(1);
  assert.deepEqual(calls, [[2]]);
  reload(3);
  reload.cancel();
  timers.advance(1000);
  assert.deepEqual(calls, [[2]]);
});
