// The Models page's figures as text: measures, changes in points, statuses, the serving log.
import assert from "node:assert/strict";
import { test } from "node:test";

import { changeLine, changeText, measureLabel, measureText, statusBadge } from "../../../bot/web/console/model-measures.js";
import { parseRoute } from "../../../bot/web/console/router.js";

test("measures as percentages and changes in points; a missing one is a dash", () => {
  assert.equal(measureText(0.91234), "91.23%");
  assert.equal(measureText(1), "100.00%");
  assert.equal(measureText(null), "–");
  assert.equal(measureText(undefined), "–");
  assert.equal(changeText(1.2), "+1.20 pts");
  assert.equal(changeText(-57.894), "−57.89 pts");
  assert.equal(changeText(0), "+0.00 pts");
  assert.equal(changeText(null), "–");
});

test("labels and statuses", () => {
  assert.equal(measureLabel("retrieval_recall_at_1"), "Retrieval recall@1");
  assert.equal(measureLabel("something_new"), "something_new");
  assert.deepEqual(statusBadge("serving"), { text: "serving", kind: "warn" });
  assert.deepEqual(statusBadge("retired"), { text: "retired", kind: "muted" });
  assert.deepEqual(statusBadge("candidate"), { text: "candidate", kind: "plain" });
});

test("the serving log in words, the configured bundle named where no version serves", () => {
  const forced = { action: "promote", version: "v2", previous: "v1", forced: true };
  assert.equal(changeLine(forced, "nlu-demo"), "promoted v2 (forced) · was v1");
  const back = { action: "rollback", version: null, previous: "v1", forced: false };
  assert.equal(changeLine(back, "nlu-demo"), "rolled back to nlu-demo (CXAGENT_NLU_BUNDLE) · was v1");
});

test("the models route", () => {
  assert.deepEqual(parseRoute("#/models"), { name: "models" });
});
