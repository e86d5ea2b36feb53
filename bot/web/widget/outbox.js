/* The outbox: messages the customer wrote that the server has not acknowledged yet. Each item is
   {id, text, at, failed, sentOn?}: `id` is the client_message_id (the server stores and answers
   a resend with the same id once), `at` the time written (ms), `sentOn` the socket generation it
   went out on. Pure functions: they return new arrays and never touch storage or the DOM. */

export function isValidItem(item) {
  return Boolean(item) && typeof item.id === "string" && typeof item.text === "string" && item.text !== "";
}

/** A fresh client_message_id. randomUUID needs a secure context; getRandomValues does not. */
export function newClientId(crypto = globalThis.crypto) {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new item for `text`, not failed, never sent. */
export function newItem(id, text, at) {
  return { id, text, at, failed: false };
}

export function without(outbox, id) {
  return outbox.filter((item) => item.id !== id);
}

/** The item marked failed (it is not resent until retried) or, with failed=false, retryable. */
export function withFailed(outbox, id, failed) {
  return outbox.map((item) => (item.id === id ? { ...item, failed, sentOn: null } : item));
}

/** What to send on the socket of this generation: not failed, not already sent on it. */
export function dueOn(outbox, generation) {
  return outbox.filter((item) => !item.failed && item.sentOn !== generation);
}

/** Items waiting to go out (a failed one waits for the customer's retry instead). */
export function hasUnsent(outbox) {
  return outbox.some((item) => !item.failed);
}

/**
 * This tab's outbox merged with the one stored by another tab of the same conversation: mine
 * first, then theirs that I do not hold and that were not acknowledged here. Keeping too much
 * is harmless (the server answers a resend once); dropping one would lose a message.
 */
export function mergeOutboxes(mine, theirs, acked) {
  const held = new Set(mine.map((item) => item.id));
  const extra = (Array.isArray(theirs) ? theirs : []).filter(
    (item) => isValidItem(item) && !held.has(item.id) && !acked.has(item.id),
  );
  return mine.concat(extra);
}

/** The stored form of an item: no per-page fields such as sentOn. */
export function storedItem({ id, text, at, failed }) {
  return { id, text, at, failed: Boolean(failed) };
}

/** The item noted as sent on the socket of `generation`, so that socket does not send it again. */
export function withSentOn(outbox, id, generation) {
  return outbox.map((item) => (item.id === id ? { ...item, sentOn: generation } : item));
}
