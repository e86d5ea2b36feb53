/* The embedding tag's data-* attributes, read once into the widget's configuration. */

const DEFAULT_COLOR = "#4f46e5";

/** Trimmed, non-empty string values only. */
export function pick(object) {
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    if (typeof value === "string" && value.trim()) out[key] = value.trim();
  }
  return out;
}

/** "Brightcart help" → "Brightcart", for lines like "Brightcart is typing…". */
export function botNameFrom(title) {
  return title.replace(/\s+(help|support|chat|assistant|helpdesk|team)$/i, "").trim() || "Assistant";
}

/**
 * Whose conversation this page view is: the `sub` (the site's customer id) of the identity
 * token, or "anonymous". Read, not verified: the service verifies the token; this only keeps
 * each identity's conversation apart in the browser's storage.
 */
export function identityKey(token) {
  if (!token) return "anonymous";
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(payload)).sub;
    return typeof sub === "string" && sub ? `customer:${sub}` : "unreadable";
  } catch {
    return "unreadable";
  }
}

/**
 * readConfig(dataset, normaliseColor) →
 *   {title, greeting, color, position, open, botName, identityToken, customer}.
 * identityToken is the site's signed identity of its signed-in customer (docs/web.md); without
 * it the visitor is anonymous and may give only their own name and e-mail (customer).
 * normaliseColor(value) gives a CSS colour the browser accepts, or null (it needs a canvas, so
 * the caller brings it).
 */
export function readConfig(data, normaliseColor = (value) => value || null) {
  const title = (data.title || "Support").trim();
  return {
    title,
    greeting: (data.greeting || "").trim(),
    color: normaliseColor(data.color) || DEFAULT_COLOR,
    position: data.position === "left" ? "left" : "right",
    open: data.open === "true",
    botName: (data.botName || "").trim() || botNameFrom(title),
    identityToken: (data.identityToken || "").trim() || null,
    // A customer id without a token would be nobody's word: it is not sent.
    customer: pick({ name: data.customerName, email: data.customerEmail }),
  };
}
