import assert from "node:assert/strict";
import { test } from "node:test";

import { newItem } from "../../../bot/web/widget/outbox.js";
import { createState } from "../../../bot/web/widget/state.js";
import { openStore } from "../../../bot/web/widget/storage.js";

/** One site's localStorage, shared by its tabs. */
function sharedStorage() {
  const values = new Map();
  return {
    getItem: (key) => (values.has(key) ? values.get(key) : null),
    setItem: (key, value) => values.set(key, String(value)),
  };
}

function tab(storage) {
  const store = openStore("cxagent:http://service", () => storage);
  return { store, state: createState(store.read()) };
}

test("two tabs of one conversation queue a message each offline: the stored copy keeps both", () => {
  const storage = sharedStorage();
  const first = tab(storage);
  first.state.conversationId = "conv-1";
  first.store.write(first.state);
  const second = tab(storage);
  assert.equal(second.state.conversationId, "conv-1");

  first.state.outbox = [newItem("one", "Message from the first tab", 1)];
  first.store.write(first.state);
  second.state.outbox = [newItem("two", "Message from the second tab", 2)];
  second.store.write(second.state); // must not overwrite the first tab's message

  const reloaded = tab(storage);
  assert.deepEqual(
    reloaded.state.outbox.map((item) => item.text),
    ["Message from the second tab", "Message from the first tab"],
  );
});

test("another conversation's stored outbox is not merged into this one", () => {
  const storage = sharedStorage();
  const old = tab(storage);
  old.state.conversationId = "old";
  old.state.outbox = [newItem("x", "for the old conversation", 1)];
  old.store.write(old.state);
  const fresh = tab(storage);
  fresh.state.conversationId = "new";
  fresh.state.outbox = [];
  fresh.store.write(fresh.state);
  assert.deepEqual(tab(storage).state.outbox, []);
});

test("blocked storage: nothing stored, nothing thrown, the widget starts empty", () => {
  const blocked = () => {
    throw new Error("SecurityError");
  };
  const store = openStore("k", blocked);
  const state = createState(store.read());
  assert.equal(state.conversationId, null);
  assert.deepEqual(state.outbox, []);
  store.write(state);
});

test("a broken stored record starts clean, keeping its valid items", () => {
  const storage = sharedStorage();
  storage.setItem("k", JSON.stringify({ outbox: [{ id: "ok", text: "hi" }, { text: "no id" }], surveyed: "x" }));
  const record = openStore("k", () => storage).read();
  assert.deepEqual(record.outbox, [{ id: "ok", text: "hi" }]);
  assert.deepEqual(record.surveyed, []);
  storage.setItem("k", "{not json");
  assert.equal(openStore("k", () => storage).read().conversation_id, null);
});
