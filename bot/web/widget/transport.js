/* The conversation's live socket (docs/live-api.md): frames in, callbacks out. No DOM. */

import { JITTER } from "../shared/backoff.js";
import { liveSocket, tokenProtocols } from "../shared/live-socket.js";

/** Close codes: the token is wrong or the conversation is unknown. Retrying cannot help. */
export const GONE_CODES = Object.freeze([4403, 4404]);

/** Bounds on the wait an error frame's retry_after asks for: never a tight loop of resends,
 * and never a message that sits unsent for minutes because of one odd value. */
export const RETRY_AFTER_BOUNDS_S = Object.freeze({ min: 1, max: 30 });

/**
 * The wait in ms an error frame asks for before the message is sent again, or null when it
 * asks for none (the message is refused for good). retry_after is in seconds.
 */
export function retryDelayMs(frame) {
  const seconds = frame.retry_after;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return null;
  const { min, max } = RETRY_AFTER_BOUNDS_S;
  return Math.min(Math.max(seconds, min), max) * 1000;
}

/**
 * Hand one server frame to the callback it is for; frames this widget does not know (a newer
 * server may add some) are ignored. Callbacks: onTyping({who, name}), onAck(message),
 * onReply(message), onMessage(message), onStatus(status, agent), onRejected(clientId, detail),
 * and onBusy(clientId, delayMs) for a message the server stored nothing of and asks to be sent
 * again after delayMs (an error frame with retry_after: busy, or beyond a rate limit).
 */
export function dispatchFrame(frame, callbacks) {
  switch (frame.type) {
    case "typing":
      callbacks.onTyping({ who: frame.who === "agent" ? "agent" : "bot", name: frame.name || null });
      break;
    case "ack":
      if (frame.message) callbacks.onAck(frame.message);
      break;
    case "reply":
      callbacks.onReply(frame.message || null);
      break;
    case "message":
      if (frame.message) callbacks.onMessage(frame.message);
      break;
    case "status":
      callbacks.onStatus(frame.status, frame.agent || null);
      break;
    case "error": {
      const clientId = frame.client_message_id || null;
      const delayMs = retryDelayMs(frame);
      // Without a client id there is no message to send again: say what went wrong instead.
      if (clientId && delayMs !== null) callbacks.onBusy(clientId, delayMs);
      else callbacks.onRejected(clientId, frame.detail ? String(frame.detail) : "");
      break;
    }
    default:
      break;
  }
}

/**
 * conversationSocket({wsBase, conversation, backoff, onConnecting, onOpen, onClose, onWaitOver,
 * ...frame callbacks}): conversation() → {id, token} of the conversation to follow now (or null:
 * nothing to open). onConnecting({generation}), onOpen({generation}); onClose({code, opened,
 * gone}) may be async and may stop() the socket.
 *
 * After an onBusy(clientId) the socket waits as the server asked: sendMessage() sends nothing
 * (returns false) until onWaitOver() says the messages due may go out again, so they keep their
 * order. The wait is up to JITTER longer than asked (`random` is injectable): a busy server
 * refuses many customers at once, and resending all together brought the burst back, one
 * retry_after later each time. A new socket does not wait (its onOpen sends what is due).
 */
export function conversationSocket({
  wsBase,
  conversation,
  backoff,
  onConnecting,
  onOpen,
  onClose,
  onWaitOver,
  WebSocketImpl,
  timers = globalThis,
  random = Math.random,
  ...frames
}) {
  let waitTimer = null; // set while the server asked us to hold messages back

  function waitThenResume(delayMs) {
    // Another refusal during the wait: the server's latest word counts.
    timers.clearTimeout(waitTimer);
    waitTimer = timers.setTimeout(
      () => {
        waitTimer = null;
        onWaitOver();
      },
      delayMs * (1 + random() * JITTER),
    );
  }

  function stopWaiting() {
    timers.clearTimeout(waitTimer);
    waitTimer = null;
  }

  const frameCallbacks = {
    ...frames,
    onBusy: (clientId, delayMs) => {
      waitThenResume(delayMs);
      frames.onBusy(clientId);
    },
  };

  const live = liveSocket({
    url: () => `${wsBase}/api/conversations/${encodeURIComponent(conversation().id)}/ws`,
    protocols: () => tokenProtocols(conversation().token),
    backoff,
    onConnecting: (event) => {
      stopWaiting();
      onConnecting(event);
    },
    onOpen,
    onFrame: (frame) => dispatchFrame(frame, frameCallbacks),
    onClose: ({ code, opened }) => onClose({ code, opened, gone: GONE_CODES.includes(code) }),
    WebSocketImpl,
    timers,
  });
  const following = () => Boolean(conversation());
  return {
    /** Open the socket if there is a conversation and none is open, opening or scheduled. */
    follow() {
      if (following() && !live.active) live.connect();
    },
    connect: () => following() && live.connect(),
    reconnectNow: () => following() && !live.hasSocket && live.reconnectNow(),
    retryLater: () => following() && live.retryLater(),
    drop() {
      stopWaiting();
      live.drop();
    },
    stop() {
      stopWaiting();
      live.stop();
    },
    /** Send an outbox item; false when it did not go out (no open socket, or waiting). */
    sendMessage: (item) =>
      waitTimer === null && live.send({ type: "message", text: item.text, client_message_id: item.id }),
    sendTyping: () => live.send({ type: "typing" }),
    get connected() {
      return live.connected;
    },
    get hasSocket() {
      return live.hasSocket;
    },
    get generation() {
      return live.generation;
    },
  };
}
