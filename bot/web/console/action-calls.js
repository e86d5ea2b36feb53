/* Actions in the console, the pure part: where each call to the company's API shows in the
   transcript, how its outcome reads, and what is wrong with a lookup's slot values. */

export const OUTCOME_LABELS = { found: "found", not_found: "not found", failed: "failed", not_allowed: "not allowed" };
const TONES = { found: "good", not_found: "warn", not_allowed: "warn", failed: "bad" };

/** The badge colour of an outcome: good, warn, bad (plain for one the console does not know). */
export const outcomeTone = (outcome) => TONES[outcome] || "plain";
export const outcomeLabel = (outcome) => OUTCOME_LABELS[outcome] || String(outcome);

/**
 * Where each call shows: under the customer message the bot acted on; a person's lookup (no
 * message) under the latest message at or before it. Map of message id → calls, oldest first;
 * the key null holds calls from before any message (or with no message left to sit under).
 */
export function placeCalls(messages, calls) {
  const ids = new Set(messages.map((m) => m.id));
  const placed = new Map();
  for (const call of calls || []) {
    let at = call.message_id != null && ids.has(call.message_id) ? call.message_id : null;
    if (call.message_id == null) {
      const when = Date.parse(call.created_at);
      for (const m of messages) if (Date.parse(m.created_at) <= when) at = m.id;
    }
    if (!placed.has(at)) placed.set(at, []);
    placed.get(at).push(call);
  }
  return placed;
}

/** "HTTP 200 · 84 ms": what the company's API answered, and how fast ("" when it was not called). */
export function callMeta(call) {
  const parts = [];
  if (call.status_code != null) parts.push(`HTTP ${call.status_code}`);
  if (call.latency_ms != null && call.status_code != null) parts.push(`${Math.round(call.latency_ms)} ms`);
  return parts.join(" · ");
}

/** "order_status: found · HTTP 200 · 84 ms": the call in one line. */
export function callSummary(call) {
  const meta = callMeta(call);
  return `${call.action}: ${outcomeLabel(call.outcome)}${meta ? ` · ${meta}` : ""}`;
}

/** "order_id" → "Order id": a slot's name as a field label. */
export function slotLabel(name) {
  const words = String(name).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * What is wrong with a lookup's values, one message per slot ({} when nothing): empty, or not
 * matching the slot's pattern (the whole value, any case, as the server checks it).
 */
export function slotProblems(lookup, values) {
  const problems = {};
  for (const slot of (lookup && lookup.slots) || []) {
    const value = String(values[slot.name] || "").trim();
    if (!value) {
      problems[slot.name] = `Give the ${slotLabel(slot.name).toLowerCase()}, like ${slot.example}.`;
      continue;
    }
    let pattern = null;
    try { pattern = new RegExp(`^(?:${slot.pattern})$`, "i"); } catch { /* the server checks it */ }
    if (pattern && !pattern.test(value)) problems[slot.name] = `That doesn't look right: it looks like ${slot.example}.`;
  }
  return problems;
}
