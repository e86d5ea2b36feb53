/* The outbox: messages the customer wrote that the server has not acknowledged yet. Each item is
   {id, text, at, failed, sentOn?, busySince?}: `id` is the client_message_id (the server stores
   and answers a resend with the same id once), `at` the time written (ms), `sentOn` the socket
   generation it went out on, `busySince` when the server first refused it as busy (ms). Pure
   functions: they return new arrays and never touch storage or the DOM. */

/** How long the server may go on refusing a message as busy before the widget stops resending
 * it and shows it as not sent, for the customer to retry: each wait is at most 30 s
 * (transport.js), so this is several tries, and a customer is never left with "Sending…" for
 * ever while the service is overloaded or down behind a proxy that answers 503. */
export const BUSY_GIVE_UP_MS = 120_000;

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

/** The item marked failed (it is not resent until retried) or, with failed=false, retryable;
 * either way its busy refusals start over. */
export function withFailed(outbox, id, failed) {
  return outbox.map((item) => {
    if (item.id !== id) return item;
    const next = { ...item, failed, sentOn: null };
    delete next.busySince;
    return next;
  });
}

/** The item refused as busy at `now`: due again, and noted as refused since its first refusal. */
export function withBusyRefusal(outbox, id, now) {
  return outbox.map((item) =>
    item.id === id ? { ...item, failed: false, sentOn: null, busySince: item.busySince ?? now } : item,
  );
}

/** Whether the server has refused the item as busy for BUSY_GIVE_UP_MS by `now`. */
export function busyTooLong(item, now) {
  return item.busySince !== undefined && now - item.busySince >= BUSY_GIVE_UP_MS;
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
