/* The widget's state and every change to it, in one place. Plain data and plain functions:
   no DOM, no timers, no network. The app calls a change, then renders what it affects. */

import * as outbox from "./outbox.js";

/** Conversation statuses, as the server names them. */
export const Status = Object.freeze({
  BOT: "bot",
  WAITING: "waiting",
  WITH_AGENT: "with_agent",
  CLOSED: "closed",
});

/** Client ids remembered as acknowledged, so no other tab's stored copy brings one back. */
const ACKED_KEPT = 500;

/** The state of a page view, from the stored record (storage.js cleanRecord). */
export function createState(stored) {
  return {
    conversationId: stored.conversation_id,
    token: stored.customer_token,
    outbox: stored.outbox,
    surveyed: stored.surveyed,
    agentName: stored.agent, // the last person seen; messages don't always name them
    status: null, // as the server last told us (Status), null before it did
    connected: false,
    ready: false, // connected *and* caught up: safe to send
    everConnected: false,
    showConnection: false, // say "Connecting…" (not for a socket that opens in a blink)
    open: false,
    unread: 0,
    replyDue: false, // a message went out and the bot's reply has not come yet
    acked: new Set(), // client ids the server acknowledged in this page view
  };
}

export function conversationStarted(state, conversationId, token) {
  state.conversationId = conversationId;
  state.token = token;
  state.status = Status.BOT;
}

/** The stored conversation is gone or not ours any more; unsent messages stay for the next. */
export function conversationForgotten(state) {
  state.conversationId = null;
  state.token = null;
  state.status = null;
  state.connected = false;
  state.ready = false;
  state.everConnected = false;
}

export function socketOpened(state) {
  state.connected = true;
  state.everConnected = true;
  state.showConnection = false;
}

export function caughtUp(state) {
  state.ready = true;
}

export function socketLost(state) {
  state.connected = false;
  state.ready = false;
  state.showConnection = true;
}

export function connectionSlow(state) {
  state.showConnection = true;
}

export function panelOpened(state) {
  state.open = true;
  state.unread = 0;
}

export function panelClosed(state) {
  state.open = false;
}

/** A message from the bot or a person arrived live: unread while the panel is closed. */
export function messageArrived(state) {
  if (!state.open) state.unread += 1;
}

export function messageQueued(state, item) {
  state.outbox = [...state.outbox, item];
}

export function messageSent(state, id, generation, expectsBotReply) {
  state.outbox = outbox.withSentOn(state.outbox, id, generation);
  if (expectsBotReply) state.replyDue = true;
}

export function messageAcknowledged(state, id) {
  state.acked.add(id);
  if (state.acked.size > ACKED_KEPT) state.acked.delete(state.acked.values().next().value);
  state.outbox = outbox.without(state.outbox, id);
}

export function messageFailed(state, id) {
  state.outbox = outbox.withFailed(state.outbox, id, true);
}

/** The server did not store it, so the same id is still free to use. */
export function messageRetried(state, id) {
  state.outbox = outbox.withFailed(state.outbox, id, false);
}

/**
 * The server stored nothing of it and asked for it again later (busy): it stays due, unless the
 * server has refused it for too long, when it is marked failed for the customer to retry.
 * Returns whether it was given up.
 */
export function messageRefusedBusy(state, id, now) {
  const item = state.outbox.find((i) => i.id === id);
  if (item && outbox.busyTooLong(item, now)) {
    messageFailed(state, id);
    return true;
  }
  state.outbox = outbox.withBusyRefusal(state.outbox, id, now);
  return false;
}

/** The name of the person who has the conversation, as the transcript gives it. */
export function agentNamed(state, name) {
  if (name) state.agentName = name;
}

/** The bot's reply came, or will not come on this socket (it comes with the catch-up). */
export function replyArrived(state) {
  state.replyDue = false;
}

export function surveyAnswered(state, conversationId) {
  if (!state.surveyed.includes(conversationId)) state.surveyed = [...state.surveyed, conversationId];
}

/** Only the bot answers straight away; a person's typing comes as its own frame. */
export function expectsBotReply(state) {
  return state.status !== Status.WITH_AGENT && state.status !== Status.WAITING;
}

/** A person is waited for or has the conversation: they may hear that the customer types. */
export function personListening(state) {
  return state.status === Status.WAITING || state.status === Status.WITH_AGENT;
}

/**
 * The server says the conversation's status is `status` (with `agent`, the person, or null).
 * Returns what the customer should be told, or null: {line, offerSurvey, hideTyping}.
 */
export function statusChanged(state, status, agent) {
  const previous = state.status;
  const previousAgent = state.agentName;
  if (agent) state.agentName = agent;
  state.status = status;
  return statusAnnouncement(previous, previousAgent, status, state.agentName);
}

/** The line a status change deserves, from the previous status and person to the new ones. */
export function statusAnnouncement(previous, previousAgent, status, agent) {
  if (status === Status.WITH_AGENT && (previous !== Status.WITH_AGENT || (agent && agent !== previousAgent))) {
    return { line: `${agent || "A person"} joined the conversation`, offerSurvey: false, hideTyping: true };
  }
  if (previous === status) return null;
  if (status === Status.WAITING) {
    return { line: "Connecting you to a person…", offerSurvey: false, hideTyping: false };
  }
  if (status === Status.BOT && previous === Status.WITH_AGENT) {
    const who = previousAgent || "The agent";
    return { line: `${who} handed you back to the assistant`, offerSurvey: true, hideTyping: false };
  }
  if (status === Status.CLOSED) {
    return { line: "This conversation has ended", offerSurvey: true, hideTyping: true };
  }
  return null;
}

/** What the host page may read through window.cxagentWidget.state(). */
export function publicView(state) {
  return {
    conversationId: state.conversationId,
    connected: state.connected,
    outbox: state.outbox.length,
    status: state.status,
    open: state.open,
  };
}
