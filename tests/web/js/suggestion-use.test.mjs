// What a reply started from among the suggested replies, as the console reports it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { suggestionUse } from "../../../bot/web/console/suggestion-use.js";

test("nothing to say before suggestions appear", () => {
  const use = suggestionUse();
  assert.equal(use.report("Hello"), null);
});

test("a reply from none of them reports all shown as ignored", () => {
  const use = suggestionUse();
  use.shown(7, ["a", "b", "c"]);
  assert.deepEqual(use.report("My own words"), { message_id: 7, shown: ["a", "b", "c"], entry_id: null, outcome: "none" });
});

test("used as it was, or edited, by the reply's text; spaces at either end do not count", () => {
  const use = suggestionUse();
  use.shown(7, ["a", "b", "c"]);
  use.picked("b", "Your order is on its way.");
  assert.equal(use.report("  Your order is on its way.\n").outcome, "used");
  const edited = use.report("Your order is on its way, Ada.");
  assert.deepEqual(edited, { message_id: 7, shown: ["a", "b", "c"], entry_id: "b", outcome: "edited" });
});

test("each suggestion is counted with one reply; a new message's suggestions start again", () => {
  const use = suggestionUse();
  use.shown(7, ["a", "b", "c"]);
  use.picked("a", "A");
  use.sent();
  assert.equal(use.report("Anything else?"), null);
  use.shown(9, ["d", "e", "f"]);
  assert.deepEqual(use.report("Hm").shown, ["d", "e", "f"]);
});

test("one picked for an earlier message still counts when new suggestions came meanwhile", () => {
  const use = suggestionUse();
  use.shown(7, ["a", "b", "c"]);
  use.picked("a", "A");
  use.shown(9, ["a", "d", "e"]);
  assert.deepEqual(use.report("A"), { message_id: 9, shown: ["a", "d", "e"], entry_id: "a", outcome: "used" });
  use.shown(11, ["d", "e", "f"]);
  assert.deepEqual(use.report("A!").shown, ["d", "e", "f", "a"]);
});
