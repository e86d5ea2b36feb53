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
 * readConfig(dataset, normaliseColor) → {title, greeting, color, position, open, botName, customer}.
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
    customer: pick({
      external_id: data.customerId,
      name: data.customerName,
      signature: data.customerSignature,
    }),
  };
}
