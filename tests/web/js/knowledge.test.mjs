// The Knowledge page, the pure part: its routes, and the entry document built from the form.
import assert from "node:assert/strict";
import { test } from "node:test";

import { entryDocument, parseWhen, suggestedId, whenText } from "../../../bot/web/console/knowledge-view.js";
import { navEntry, parseRoute } from "../../../bot/web/console/router.js";

test("knowledge routes: the list, an entry, a new entry from a question", () => {
  assert.deepEqual(parseRoute("#/knowledge"), { name: "knowledge" });
  assert.deepEqual(parseRoute("#/knowledge/returns.policy"), { name: "knowledge", id: "returns.policy" });
  assert.deepEqual(parseRoute("#/knowledge/new/Do%20you%20gift%20wrap%3F"), { name: "knowledge", id: "new", question: "Do you gift wrap?" });
  assert.deepEqual(parseRoute("#/knowledge/new"), { name: "knowledge", id: "new", question: "" });
  assert.equal(navEntry({ name: "knowledge", id: "x" }), "knowledge");
});

test("a variant's profile condition reads and writes as key=value pairs", () => {
  assert.deepEqual(parseWhen(" tier = gold, segment=vip ,"), { tier: "gold", segment: "vip" });
  assert.equal(whenText({ tier: "gold", segment: "vip" }), "tier=gold, segment=vip");
  // Kept for the server to refuse with its reason, not dropped silently.
  assert.deepEqual(parseWhen("gold"), { gold: "" });
});

test("the form becomes the entry document: one question a line, empty optionals left out", () => {
  const document = entryDocument({
    id: " gift.wrap ", intent: "gift", questions: "Do you gift wrap?\n\n  wrap it please \n", answer: " Yes. ",
    fallback: "  ", variants: [{ when: "tier=gold", answer: "Free for you.", fallback: "" }],
  });
  assert.deepEqual(document, {
    id: "gift.wrap", intent: "gift", questions: ["Do you gift wrap?", "wrap it please"], answer: "Yes.",
    variants: [{ when: { tier: "gold" }, answer: "Free for you." }],
  });
  const slotted = entryDocument({ id: "a", intent: "b", questions: "q", answer: "Hi {customer_name}", fallback: "Hi", variants: [], action: "order_status" });
  assert.equal(slotted.fallback, "Hi");
  assert.equal(slotted.action, "order_status");
});

test("a new entry's id is suggested from the question", () => {
  assert.equal(suggestedId("Do you gift-wrap presents?"), "new.do_you_gift_wrap_presents");
  assert.equal(suggestedId("???"), "");
});
