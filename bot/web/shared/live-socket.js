/* The one reconnecting WebSocket of both pages. It knows frames and callbacks, not the DOM:
   the page decides what an open, a frame or a close means for what it shows. */

import { parseJSON } from "./http.js";

/** The subprotocols that carry a token (bot/api/socket_auth.py): browsers cannot set headers on
 * a WebSocket, and a token in the URL would land in access logs. */
export function tokenProtocols(token) {
  return ["cxagent", `token.${token}`];
}

/**
 * liveSocket({url, protocols, backoff, onConnecting, onOpen, onFrame, onClose}):
 * - url(): the address to open now; protocols(): the subprotocols to offer with it, such as
 *   tokenProtocols(token) (the token may have changed since the last socket);
 * - onConnecting({generation}) as each new socket starts opening;
 * - onOpen({generation}) (the back-off starts again from its minimum), onFrame(frame) with each JSON frame, onClose({code, opened});
 * - after a close it reconnects with the back-off, once onClose (which may be async) has run,
 *   unless stop() was called meanwhile or a socket is open again.
 * `generation` counts sockets, so a caller can send a thing once per connection.
 * WebSocket and timers are injectable for tests.
 */
export function liveSocket({
  url,
  protocols = () => undefined,
  backoff,
  onConnecting = () => {},
  onOpen = () => {},
  onFrame = () => {},
  onClose = () => {},
  WebSocketImpl = globalThis.WebSocket,
  timers = globalThis,
}) {
  let socket = null;
  let open = false;
  let generation = 0;
  let retryTimer = null;
  let stopped = true;

  function connect() {
    cancelRetry();
    stopped = false;
    if (socket) return;
    const gen = ++generation;
    let ws;
    try {
      ws = new WebSocketImpl(url(), protocols());
    } catch {
      retryLater();
      return;
    }
    socket = ws;
    let opened = false;
    onConnecting({ generation: gen });
    ws.onopen = () => {
      if (socket !== ws) return;
      opened = true;
      open = true;
      backoff.reset();
      onOpen({ generation: gen });
    };
    ws.onmessage = (event) => {
      if (socket !== ws) return;
      const frame = parseJSON(event.data);
      if (frame && typeof frame === "object") onFrame(frame);
    };
    ws.onclose = async (event) => {
      if (socket !== ws) return; // dropped or replaced on purpose
      socket = null;
      open = false;
      await onClose({ code: event.code, opened });
      retryLater();
    };
    ws.onerror = () => {
      /* a close follows and handles it */
    };
  }

  function cancelRetry() {
    timers.clearTimeout(retryTimer);
    retryTimer = null;
  }

  /** Reconnect after the next back-off delay, unless stopped, connected or already waiting. */
  function retryLater() {
    if (stopped || socket || retryTimer) return;
    retryTimer = timers.setTimeout(() => {
      retryTimer = null;
      connect();
    }, backoff.next());
  }

  /** Abandon the socket without waiting for its close (a dead network may not close it for
   * minutes); the caller decides whether to retry. */
  function drop() {
    const ws = socket;
    if (!ws) return;
    socket = null;
    open = false;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
  }

  return {
    connect,
    retryLater,
    drop,
    /** Connect at once, back-off forgotten (the network is back, the tab is visible again). */
    reconnectNow() {
      backoff.reset();
      connect();
    },
    /** No socket and no more retries until connect() is called again. */
    stop() {
      stopped = true;
      cancelRetry();
      drop();
    },
    /** Send a JSON frame; false when there is no open socket or it refused. */
    send(frame) {
      if (!socket || !open) return false;
      try {
        socket.send(JSON.stringify(frame));
        return true;
      } catch {
        return false; // closing: its close handler reconnects
      }
    },
    get connected() {
      return open;
    },
    /** A socket exists, open or opening. */
    get hasSocket() {
      return socket !== null;
    },
    /** A socket exists or a retry is scheduled. */
    get active() {
      return socket !== null || retryTimer !== null;
    },
    get generation() {
      return generation;
    },
  };
}
