/* How the console writes times, numbers, labels and names. Pure: the clock is an argument. */

// Conversation.priority: 0 means "not escalated"; the rules' names map to 1..4
// (PRIORITIES in the escalation rules).
export const PRIORITY_LABELS = { 0: "none", 1: "low", 2: "normal", 3: "high", 4: "urgent" };
export const STATUS_LABELS = { bot: "with bot", waiting: "waiting", with_agent: "with agent", closed: "closed" };

export function relTime(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
export const moneyFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export const fmtDate = (iso) => (iso ? dateFmt.format(new Date(iso)) : "—");
export const fmtDateTime = (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : "—");
export const fmtDay = (day) => dayFmt.format(new Date(`${day}T00:00:00Z`));
export const pct = (share, digits = 0) =>
  share === null || share === undefined ? "—" : `${(share * 100).toFixed(digits)}%`;
export const priorityLabel = (p) => PRIORITY_LABELS[p] ?? String(p);

export function satisfactionClass(score) {
  if (score >= 4) return "good";
  if (score >= 3) return "ok";
  return "bad";
}

export function sentimentLabel(score) {
  if (score === null || score === undefined) return "—";
  if (score <= -0.2) return "negative";
  if (score >= 0.2) return "positive";
  return "neutral";
}

export function initials(name) {
  return (name || "?")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((p) => p[0].toUpperCase())
    .join("");
}

// What the model read in a customer message (its `questions`), when that is not simply what
// was typed: each question of a split message, the words it corrected and the topic a
// follow-up was read after. An empty list when there is nothing to add to the message itself.
export function readingLines(questions) {
  if (!Array.isArray(questions) || questions.length === 0) return [];
  const corrections = (q) => Object.entries(q.corrections || {}).map(([typed, read]) => `${typed} → ${read}`);
  const worth = questions.length > 1 || questions.some((q) => q.topic || corrections(q).length);
  if (!worth) return [];
  return questions.map((q, i) => ({
    label: questions.length > 1 ? `Question ${i + 1}` : "Read as",
    text: q.text,
    corrections: corrections(q),
    topic: q.topic || null,
    intent: q.intent || null,
    entry: q.entry_id || null,
  }));
}
