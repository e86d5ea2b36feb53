// The pure parts of the widget's views: configuration, text, colours and message order.
import assert from "node:assert/strict";
import { test } from "node:test";

import { botNameFrom, identityKey, readConfig } from "../../../bot/web/widget/config.js";
import { insertionIndex } from "../../../bot/web/widget/messages.js";
import { authorName, initial, linkify } from "../../../bot/web/widget/text.js";
import { accentProperties, contrast } from "../../../bot/web/widget/theme.js";

test("the tag's attributes become the configuration, with defaults", () => {
  const config = readConfig({
    title: " Acme support ",
    color: "#b45309",
    position: "left",
    open: "true",
    customerId: " 42 ",
    customerName: " Ada ",
  });
  assert.deepEqual(config, {
    title: "Acme support",
    greeting: "",
    color: "#b45309",
    position: "left",
    open: true,
    botName: "Acme",
    identityToken: null,
    // An id without the site's token is not sent: the visitor is anonymous.
    customer: { name: "Ada" },
  });
  assert.equal(readConfig({ identityToken: " a.b.c " }).identityToken, "a.b.c");
  const defaults = readConfig({ position: "top", color: "not a colour" }, () => null);
  assert.deepEqual([defaults.title, defaults.position, defaults.color, defaults.open], ["Support", "right", "#4f46e5", false]);
});

test("each identity keeps its own conversation in storage, by the token's sub", () => {
  const token = (payload) => `e30.${btoa(JSON.stringify(payload)).replace(/=+$/, "")}.sig`;
  assert.equal(identityKey(null), "anonymous");
  assert.equal(identityKey(token({ sub: "cust-42", exp: 1 })), "customer:cust-42");
  assert.notEqual(identityKey(token({ sub: "cust-7" })), identityKey(token({ sub: "cust-42" })));
  assert.equal(identityKey("junk"), "unreadable");
});

test("the bot's name comes from the title unless the tag names it", () => {
  assert.equal(botNameFrom("Brightcart help"), "Brightcart");
  assert.equal(botNameFrom("Help"), "Help");
  assert.equal(readConfig({ title: "Brightcart help", botName: "Brighty" }).botName, "Brighty");
});

test("links are cut out of text without their trailing punctuation", () => {
  assert.deepEqual(linkify("See https://example.com/returns. Or http://x.io/a?b=1)!"), [
    { text: "See " },
    { link: "https://example.com/returns" },
    { text: ". Or " },
    { link: "http://x.io/a?b=1" },
    { text: ")!" },
  ]);
  assert.deepEqual(linkify("no links <b>here</b>"), [{ text: "no links <b>here</b>" }]);
  assert.deepEqual(linkify("javascript:alert(1)"), [{ text: "javascript:alert(1)" }]);
});

test("who wrote a message, as the customer reads it", () => {
  const names = { botName: "Brightcart", agentName: "Sam" };
  assert.equal(authorName({ role: "bot" }, names), "Brightcart");
  assert.equal(authorName({ role: "customer" }, names), "You");
  assert.equal(authorName({ role: "agent", author: "Ada" }, names), "Ada");
  assert.equal(authorName({ role: "agent" }, names), "Sam");
  assert.equal(authorName({ role: "agent" }, { botName: "B", agentName: null }), "Support agent");
  assert.equal(initial("  sam"), "S");
  assert.equal(initial(""), "?");
});

test("a server message goes after older ones and before newer ones and local bubbles", () => {
  const rows = [
    { id: null, local: false }, // the greeting
    { id: "3", local: false },
    { id: "5", local: false },
    { id: null, local: true }, // a customer bubble not acknowledged yet
  ];
  assert.equal(insertionIndex(rows, "4"), 2);
  assert.equal(insertionIndex(rows, "9"), 3);
  assert.equal(insertionIndex(rows, "10"), 3, "ids compare as numbers, not strings");
  assert.equal(insertionIndex(rows, "1"), 1, "never above the greeting or a system line");
  assert.equal(insertionIndex([], "1"), 0);
});

test("text on the accent is whichever of white or near-black reads better", () => {
  assert.ok(contrast("#ffffff", "#000000") > 20);
  assert.equal(accentProperties("#4f46e5")["--cx-on-accent"], "#ffffff");
  assert.equal(accentProperties("#fde047")["--cx-on-accent"], "#111827");
  assert.equal(accentProperties("#fde047")["--cx-focus"], "#1c2030", "a pale accent is no focus ring");
});
