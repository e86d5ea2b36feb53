/* The conversation's live socket (docs/live-api.md): frames in, callbacks out. No DOM. */

import { liveSocket, tokenProtocols } from "../shared/live-socket.js";

/** Close codes: the token is wrong or the conversation is unknown. Retrying cannot help. */
export const GONE_CODES = Object.freeze([4403, 4404]);

/**
 * Hand one server frame to the callback it is for; frames this widget does not know (a newer
 * server may add some) are ignored. Callbacks: onTyping({who, name}), onAck(message),
 * onReply(message), onMessage(message), onStatus(status, agent), onRejected(clientId, detail).
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
    case "error":
      callbacks.onRejected(frame.client_message_id || null, frame.detail ? String(frame.detail) : "");
      break;
    default:
      break;
  }
}

/**
 * conversationSocket({wsBase, conversation, backoff, onConnecting, onOpen, onClose, ...frame
 * callbacks}): conversation() → {id, token} of the conversation to follow now (or null: nothing
 * to open). onConnecting({generation}), onOpen({generation}); onClose({code, opened, gone}) may be async and may stop() the socket.
 */
export function conversationSocket({
  wsBase,
  conversation,
  backoff,
  onConnecting,
  onOpen,
  onClose,
  WebSocketImpl,
  timers,
  ...frames
}) {
  const live = liveSocket({
    url: () => `${wsBase}/api/conversations/${encodeURIComponent(conversation().id)}/ws`,
    protocols: () => tokenProtocols(conversation().token),
    backoff,
    onConnecting,
    onOpen,
    onFrame: (frame) => dispatchFrame(frame, frames),
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
    drop: live.drop,
    stop: live.stop,
    sendMessage: (item) => live.send({ type: "message", text: item.text, client_message_id: item.id }),
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
