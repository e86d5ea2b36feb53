/* The widget app, started by the loader (/widget.js) with its tag's data-* attributes. It wires
   the parts together: the state (state.js) changes, the stored copy (storage.js) follows, the
   socket (transport.js) and the HTTP calls (api.js) talk to the server, and the views (panel,
   messages, survey) show it. The API it talks to is described in docs/live-api.md. */

import { backoff } from "../shared/backoff.js";
import { atMostEvery } from "../shared/timing.js";
import { customerApi } from "./api.js";
import { identityKey, readConfig } from "./config.js";
import { createMessageLog } from "./messages.js";
import { dueOn, hasUnsent, newClientId, newItem } from "./outbox.js";
import { createPanel } from "./panel.js";
import * as State from "./state.js";
import { openStore } from "./storage.js";
import { surveyForm, thanksCard } from "./survey.js";
import { authorName } from "./text.js";
import { normaliseColor } from "./theme.js";
import { conversationSocket } from "./transport.js";

const RETRY = { minMs: 500, maxMs: 10000 };
const TYPING_EVERY_MS = 3000;
const CONNECTING_QUIET_MS = 1200; // don't flash "Connecting…" for a socket that opens in a blink
const DEFERRED_AT_MOST_MS = 4000;
// Why a message the server kept refusing as busy shows "Not sent" (the bubble's hover text).
const BUSY_GAVE_UP = "The service is busy; your message was not sent. Retry in a moment.";

/**
 * startWidget({dataset, origin}): origin is the service's (where the widget was loaded from).
 * Returns the public handle's workings: {open(), close(), state()}.
 */
export function startWidget({ dataset, origin }) {
  const config = readConfig(dataset, normaliseColor);
  // Each identity keeps its own conversation: a customer who signs in (or out) on this browser
  // never continues someone else's.
  const store = openStore(`cxagent:${origin}:${identityKey(config.identityToken)}`);
  const state = State.createState(store.read());
  const api = customerApi(origin);
  const socket = conversationSocket({
    wsBase: origin.replace(/^http/, "ws"), // http→ws, https→wss
    conversation: () => (state.conversationId ? { id: state.conversationId, token: state.token } : null),
    backoff: backoff(RETRY),
    onConnecting,
    onOpen,
    onClose,
    onTyping: ({ who, name }) => ui.showTyping(who === "agent" ? name || state.agentName || "Support agent" : config.botName),
    onAck: (message) => receive(message, true),
    onReply,
    onMessage: (message) => {
      receive(message, true);
      if (message.role !== "customer") ui.hideTyping();
    },
    onStatus: (status, agent) => {
      applyStatus(status, agent, true);
      store.write(state);
    },
    onRejected,
    onBusy,
    onWaitOver: flushOutbox,
  });

  let ui = null; // the panel, once the page has a body
  let log = null;
  const readyQueue = [];
  const whenReady = (fn) => (ui ? fn() : readyQueue.push(fn));

  // ---------------------------------------------------------------- the conversation

  const startRetry = backoff(RETRY);
  let starting = false;
  let startTimer = null;

  /** Start the conversation if there is none (lazily), or make sure we are connecting. */
  async function ensureConversation() {
    if (state.conversationId) return socket.follow();
    if (starting) return;
    starting = true;
    clearTimeout(startTimer);
    startTimer = null;
    let res = null; // stays null when the network is down
    try {
      res = await api.start(config.identityToken, config.customer);
    } catch {
      /* offline: retried below */
    } finally {
      starting = false;
    }
    if (res && res.ok && res.data && res.data.conversation_id) {
      State.conversationStarted(state, res.data.conversation_id, res.data.customer_token);
      startRetry.reset();
      store.write(state);
      ui.clearError();
      ui.renderHeader(state);
      socket.connect();
      return;
    }
    if (res && res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      // Retrying the same request won't help (e.g. an expired or wrongly signed identity token).
      ui.showError("Sorry, the chat couldn't start. Please try again later.");
      for (const item of state.outbox) markFailed(item.id);
      return;
    }
    ui.showError("Can't reach support right now. We'll keep trying…");
    if (state.open || hasUnsent(state.outbox)) startTimer = setTimeout(ensureConversation, startRetry.next());
  }

  /** The stored conversation is gone or not ours any more: start over on the next send. */
  function forgetConversation() {
    socket.stop();
    flushDeferred();
    State.conversationForgotten(state);
    store.write(state);
    // Its messages go too; unsent ones stay and will open the new conversation.
    log.clearConversation();
    ui.cards.replaceChildren();
    ui.hideTyping();
    ui.renderHeader(state);
    ui.renderConnection(state);
    if (hasUnsent(state.outbox)) ensureConversation();
  }

  /** GET the transcript and render what we have not shown. Returns "ok" | "gone" | "error". */
  async function catchUp() {
    const id = state.conversationId;
    if (!id) return "gone";
    let res;
    try {
      res = await api.transcript(id, state.token);
    } catch {
      return "error"; // offline: the connection line already says so
    }
    if (id !== state.conversationId) return "gone";
    if (res.status === 403 || res.status === 404) {
      forgetConversation();
      return "gone";
    }
    if (!res.ok || !res.data) {
      ui.showError("Couldn't load the conversation. Retrying…");
      return "error";
    }
    const transcript = res.data;
    State.agentNamed(state, transcript.agent);
    for (const message of transcript.messages || []) receive(message, false);
    if (transcript.status) applyStatus(transcript.status, transcript.agent || null, state.status !== null);
    store.write(state);
    return "ok";
  }

  /** Any server message (ack, reply, push or transcript). */
  function receive(message, live) {
    if (!message || message.id == null) return;
    const clientId = message.role === "customer" ? message.client_message_id : null;
    if (clientId) {
      State.messageAcknowledged(state, clientId);
      store.write(state); // also when only the stored copy (merged from another tab) held it
    }
    const name = authorName(message, { botName: config.botName, agentName: state.agentName });
    if (!log.showServerMessage(message, name)) return;
    if (live && message.role !== "customer") {
      ui.hideTyping();
      State.messageArrived(state);
      ui.renderBadge(state.unread);
    }
    ui.scrollToBottom(message.role === "customer");
  }

  // Status lines caused by a message ("a person will join") read better after the bot's reply
  // to it, which comes just after: they wait for it, a few seconds at most.
  const deferred = [];
  let deferTimer = null;

  function applyStatus(status, agent, announce) {
    const news = State.statusChanged(state, status, agent);
    ui.renderHeader(state);
    if (!announce || !news) return;
    const say = () => {
      if (news.hideTyping) ui.hideTyping();
      log.systemLine(news.line);
      if (news.offerSurvey) offerSurvey(false);
    };
    if (!state.replyDue) return say();
    deferred.push(say);
    clearTimeout(deferTimer);
    deferTimer = setTimeout(flushDeferred, DEFERRED_AT_MOST_MS);
  }

  function flushDeferred() {
    clearTimeout(deferTimer);
    State.replyArrived(state);
    deferred.splice(0).forEach((say) => say());
  }

  // ---------------------------------------------------------------- the socket

  let connectingTimer = null;

  function onConnecting() {
    clearTimeout(connectingTimer);
    connectingTimer = setTimeout(
      () => {
        State.connectionSlow(state);
        ui.renderConnection(state);
      },
      state.everConnected ? 0 : CONNECTING_QUIET_MS,
    );
  }

  async function onOpen({ generation }) {
    State.socketOpened(state);
    clearTimeout(connectingTimer);
    ui.renderConnection(state);
    // Catch up first, so a message stored before the drop is not sent again needlessly.
    await catchUp();
    if (generation !== socket.generation || !socket.connected) return;
    State.caughtUp(state);
    flushOutbox();
  }

  function socketLost() {
    State.socketLost(state);
    clearTimeout(connectingTimer);
    ui.renderConnection(state);
    flushDeferred(); // a reply cut off by the drop comes with the catch-up instead
  }

  async function onClose({ opened, gone }) {
    socketLost();
    if (gone) return forgetConversation();
    // A refused handshake reaches browsers as 1006, not 4403/4404: ask over HTTP why.
    if (!opened) await catchUp();
  }

  function onReply(message) {
    receive(message, true);
    if (message && message.role !== "customer") ui.hideTyping();
    flushDeferred();
  }

  function onRejected(clientId, detail) {
    if (clientId && state.outbox.some((item) => item.id === clientId)) markFailed(clientId, detail);
    else if (detail) ui.showError(detail.slice(0, 200));
    ui.hideTyping();
    flushDeferred();
  }

  // The server stored nothing and asked us to wait (busy, or beyond a rate limit): the message
  // stays "Sending…", not failed, and goes out again with the same id when the socket's wait is
  // over (onWaitOver), so the server stores it once. Refused for minutes, it is shown as not
  // sent instead, for the customer to retry, rather than "Sending…" for ever.
  function onBusy(clientId) {
    if (State.messageRefusedBusy(state, clientId, Date.now())) {
      store.write(state);
      log.markFailed(clientId, BUSY_GAVE_UP);
    }
    ui.hideTyping(); // no reply comes until it is sent again
    flushDeferred();
  }

  // ---------------------------------------------------------------- sending

  function sendText(text) {
    const item = newItem(newClientId(), text, Date.now());
    State.messageQueued(state, item);
    store.write(state);
    log.showPending(item);
    deliver(item.id);
  }

  function deliver(id) {
    if (!state.conversationId) ensureConversation(); // sends the outbox once connected
    else if (state.ready) sendItem(id);
    else if (!socket.hasSocket) socket.reconnectNow(); // queued; goes out after the (re)connect
  }

  function sendItem(id) {
    const item = state.outbox.find((i) => i.id === id);
    if (!state.ready || !item || item.failed || item.sentOn === socket.generation) return;
    // Not sent: the socket is going away (the reconnect resends it) or waits as the server
    // asked (the end of the wait resends it).
    if (!socket.sendMessage(item)) return;
    const botReplies = State.expectsBotReply(state);
    State.messageSent(state, id, socket.generation, botReplies);
    if (botReplies) ui.showTyping(config.botName);
  }

  function flushOutbox() {
    for (const item of dueOn(state.outbox, socket.generation)) sendItem(item.id);
  }

  // Tell the person who has (or is about to take) the conversation that the customer is
  // writing; the bot needs no warning. At most every few seconds, best effort only.
  const typingGate = atMostEvery(TYPING_EVERY_MS);
  function noteTyping() {
    if (state.ready && State.personListening(state) && typingGate()) socket.sendTyping();
  }

  function markFailed(id, detail) {
    if (!state.outbox.some((item) => item.id === id)) return;
    State.messageFailed(state, id);
    store.write(state);
    log.markFailed(id, detail);
  }

  function retryItem(id) {
    if (!state.outbox.some((item) => item.id === id)) return;
    State.messageRetried(state, id);
    store.write(state);
    log.markPending(id);
    ui.clearError();
    deliver(id);
  }

  // ---------------------------------------------------------------- survey

  function endChat() {
    if (!state.conversationId) return closePanel(true);
    // Closed on the server too, so nobody in the support team waits for a customer who left.
    // Best effort: the survey is offered either way, and writing again reopens the chat.
    if (state.status !== State.Status.CLOSED) api.end(state.conversationId, state.token).catch(() => {});
    offerSurvey(true);
  }

  function offerSurvey(explicit) {
    const id = state.conversationId;
    if (!id) return;
    if (state.surveyed.includes(id)) {
      if (explicit) showThanks(); // nothing more to ask; say so rather than do nothing
      return;
    }
    const existing = ui.cards.querySelector("form");
    if (existing) {
      existing.scrollIntoView({ block: "nearest" });
      if (explicit) existing.querySelector("input").focus();
      return;
    }
    const form = surveyForm((answers) => submitSurvey(id, answers));
    ui.cards.replaceChildren(form);
    ui.scrollToBottom(true);
    if (explicit && state.open) setTimeout(() => form.querySelector("h3").focus(), 50);
  }

  async function submitSurvey(id, answers) {
    let res;
    try {
      res = await api.survey(id, state.token, answers);
    } catch {
      return "offline";
    }
    // 409: it was answered already (another tab, an earlier visit); thank them all the same.
    if (!res.ok && res.status !== 409) return "refused";
    State.surveyAnswered(state, id);
    store.write(state);
    showThanks();
    return "saved";
  }

  function showThanks() {
    ui.cards.replaceChildren(thanksCard());
    ui.scrollToBottom(true);
  }

  // ---------------------------------------------------------------- open / close

  function openPanel() {
    if (state.open) return;
    State.panelOpened(state);
    ui.renderBadge(state.unread);
    ui.renderOpen(true);
    ensureConversation();
  }

  function closePanel(returnFocus) {
    if (!state.open) return;
    State.panelClosed(state);
    ui.renderOpen(false, { returnFocus });
  }

  // ---------------------------------------------------------------- start

  function init() {
    if (document.getElementById("cxagent-widget")) return; // a copy from another URL got here first
    ui = createPanel(config, {
      onToggle: () => (state.open ? closePanel(true) : openPanel()),
      onMinimise: () => closePanel(true),
      onEnd: endChat,
      onSubmit: sendText,
      onType: noteTyping,
    });
    log = createMessageLog(ui, { onRetry: retryItem });
    if (config.greeting) log.showGreeting(config.greeting, config.botName);
    ui.renderHeader(state);
    // Messages typed before a reload and never acknowledged: show them, send them on connect.
    for (const item of state.outbox) log.showPending(item);

    if (state.conversationId) {
      // Show the stored conversation at once, then go live (connecting catches up again).
      catchUp().then(() => {
        if (state.conversationId) socket.connect();
        else if (state.outbox.length) ensureConversation();
      });
    } else if (hasUnsent(state.outbox)) {
      ensureConversation();
    }

    window.addEventListener("offline", () => {
      // A socket on a dead network may not notice for minutes: drop it and say so now.
      if (!socket.hasSocket) return;
      socket.drop();
      socketLost();
      socket.retryLater();
    });
    window.addEventListener("online", () => {
      if (state.conversationId) socket.reconnectNow();
      else if (hasUnsent(state.outbox)) ensureConversation();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") socket.reconnectNow();
    });

    if (config.open) openPanel();
    readyQueue.splice(0).forEach((fn) => fn());
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init, { once: true });

  return {
    open: () => whenReady(openPanel),
    close: () => whenReady(() => closePanel(false)),
    state: () => State.publicView(state),
  };
}
