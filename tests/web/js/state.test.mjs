import assert from "node:assert/strict";
import { test } from "node:test";

import { BUSY_GIVE_UP_MS, hasUnsent, newItem } from "../../../bot/web/widget/outbox.js";
import * as State from "../../../bot/web/widget/state.js";
import { cleanRecord } from "../../../bot/web/widget/storage.js";

const { Status } = State;
const fresh = () => State.createState(cleanRecord({ conversation_id: "c1", customer_token: "t" }));

test("a person joining is announced with their name, and hides the bot's typing dots", () => {
  const state = fresh();
  State.statusChanged(state, Status.WAITING, null);
  const news = State.statusChanged(state, Status.WITH_AGENT, "Sam");
  assert.deepEqual(news, { line: "Sam joined the conversation", offerSurvey: false, hideTyping: true });
  assert.equal(state.agentName, "Sam");
  assert.equal(state.status, Status.WITH_AGENT);
});

test("another person taking over is announced; the same status again is not", () => {
  const state = fresh();
  State.statusChanged(state, Status.WITH_AGENT, "Sam");
  assert.equal(State.statusChanged(state, Status.WITH_AGENT, "Sam"), null);
  assert.equal(State.statusChanged(state, Status.WITH_AGENT, null), null, "no name: the same person");
  assert.equal(State.statusChanged(state, Status.WITH_AGENT, "Ada").line, "Ada joined the conversation");
});

test("handing back names the person and offers the survey; so does closing", () => {
  const state = fresh();
  State.statusChanged(state, Status.WITH_AGENT, "Sam");
  assert.deepEqual(State.statusChanged(state, Status.BOT, null), {
    line: "Sam handed you back to the assistant",
    offerSurvey: true,
    hideTyping: false,
  });
  assert.deepEqual(State.statusChanged(state, Status.CLOSED, null), {
    line: "This conversation has ended",
    offerSurvey: true,
    hideTyping: true,
  });
});

test("the announcements, from each status to each", () => {
  const line = (from, to) => State.statusAnnouncement(from, null, to, null)?.line ?? null;
  assert.equal(line(Status.BOT, Status.WAITING), "Connecting you to a person…");
  assert.equal(line(Status.WAITING, Status.WITH_AGENT), "A person joined the conversation");
  assert.equal(line(Status.WITH_AGENT, Status.BOT), "The agent handed you back to the assistant");
  assert.equal(line(Status.CLOSED, Status.BOT), null, "reopened by writing again: nothing to say");
  assert.equal(line(Status.BOT, Status.BOT), null);
});

test("only the bot's reply is waited for; a person's typing comes as its own frame", () => {
  const state = fresh();
  state.status = Status.BOT;
  assert.equal(State.expectsBotReply(state), true);
  assert.equal(State.personListening(state), false);
  state.status = Status.WAITING;
  assert.equal(State.expectsBotReply(state), false);
  assert.equal(State.personListening(state), true);
});

test("sending, acknowledging, failing and retrying move an item through the outbox", () => {
  const state = fresh();
  State.messageQueued(state, newItem("m1", "hello", 1));
  State.messageSent(state, "m1", 3, true);
  assert.equal(state.outbox[0].sentOn, 3);
  assert.equal(state.replyDue, true);
  State.messageFailed(state, "m1");
  assert.equal(state.outbox[0].failed, true);
  State.messageRetried(state, "m1");
  assert.deepEqual(state.outbox[0], { id: "m1", text: "hello", at: 1, failed: false, sentOn: null });
  State.messageAcknowledged(state, "m1");
  assert.deepEqual(state.outbox, []);
  assert.equal(state.acked.has("m1"), true);
  assert.deepEqual(State.publicView(state), {
    conversationId: "c1",
    connected: false,
    outbox: 0,
    status: null,
    open: false,
  });
});

test("a message the server keeps refusing as busy is given up as failed, for the customer to retry", () => {
  const state = fresh();
  State.messageQueued(state, newItem("m1", "hello", 1));
  State.messageSent(state, "m1", 3, true);
  assert.equal(State.messageRefusedBusy(state, "m1", 10_000), false);
  assert.equal(state.outbox[0].failed, false);
  assert.equal(state.outbox[0].sentOn, null, "due again on the same socket");
  assert.equal(State.messageRefusedBusy(state, "m1", 10_000 + BUSY_GIVE_UP_MS - 1), false);
  assert.equal(State.messageRefusedBusy(state, "m1", 10_000 + BUSY_GIVE_UP_MS), true);
  assert.equal(state.outbox[0].failed, true, "not resent until the customer retries");
  assert.equal(hasUnsent(state.outbox), false);
  State.messageRetried(state, "m1");
  assert.equal(State.messageRefusedBusy(state, "m1", 10_000 + 2 * BUSY_GIVE_UP_MS), false, "a retry starts the count over");
});

test("the acknowledged ids kept are bounded, oldest dropped first", () => {
  const state = fresh();
  for (let i = 0; i < 501; i++) State.messageAcknowledged(state, `id-${i}`);
  assert.equal(state.acked.size, 500);
  assert.equal(state.acked.has("id-0"), false);
  assert.equal(state.acked.has("id-500"), true);
});

test("unread counts only while the panel is closed; opening clears it", () => {
  const state = fresh();
  State.messageArrived(state);
  State.messageArrived(state);
  assert.equal(state.unread, 2);
  State.panelOpened(state);
  State.messageArrived(state);
  assert.equal(state.unread, 0);
});

test("a lost socket is not ready to send and says so; forgetting the conversation keeps the outbox", () => {
  const state = fresh();
  State.socketOpened(state);
  State.caughtUp(state);
  State.socketLost(state);
  assert.deepEqual([state.connected, state.ready, state.everConnected, state.showConnection], [false, false, true, true]);
  State.messageQueued(state, newItem("m1", "still here", 1));
  State.conversationForgotten(state);
  assert.deepEqual([state.conversationId, state.token, state.everConnected], [null, null, false]);
  assert.equal(state.outbox.length, 1);
});
