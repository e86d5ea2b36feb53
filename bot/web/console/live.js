/* The staff live socket (docs/live-api.md): conversation changes and customers' typing, as
   callbacks. No DOM. */

import { backoff } from "../shared/backoff.js";
import { liveSocket, tokenProtocols } from "../shared/live-socket.js";

// Longer than the widget's: a console can wait, and many consoles reconnecting at once should not.
const RETRY = { minMs: 1000, maxMs: 30000 };

/** Close codes: the token is no good any more. */
export const SESSION_ENDED_CODES = Object.freeze([4401, 4403]);

/** Hand one frame to onChange(frame) or onTyping(frame); anything else is ignored. */
export function dispatchStaffFrame(frame, { onChange, onTyping }) {
  if (frame.type === "typing") onTyping(frame);
  else if (frame.type === "conversation") onChange(frame);
}

/**
 * staffLive({token, onConnecting, onOpen, onChange, onTyping, onLost, onSessionEnded}):
 * token() is the staff token to connect with; onLost({opened}) after a drop (a retry follows);
 * onSessionEnded() when the server refused the token (no retry).
 */
export function staffLive({ token, onConnecting, onOpen, onChange, onTyping, onLost, onSessionEnded, location = globalThis.location }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const live = liveSocket({
    url: () => `${scheme}://${location.host}/api/staff/ws`,
    protocols: () => tokenProtocols(token()),
    backoff: backoff(RETRY),
    onConnecting,
    onOpen,
    onFrame: (frame) => dispatchStaffFrame(frame, { onChange, onTyping }),
    onClose: ({ code, opened }) => {
      if (!SESSION_ENDED_CODES.includes(code)) return onLost({ opened });
      live.stop();
      onSessionEnded();
    },
  });
  return live;
}
