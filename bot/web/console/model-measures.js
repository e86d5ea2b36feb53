/* The Models page's figures, as text: measures, changes in points, statuses. Pure, so node
   tests them. */

// The four measures of a model version, as the registry names them, with their labels (and a
// short one for the versions' table, which has a column for each).
export const MEASURES = [
  ["intent_accuracy", "Intent accuracy", "Intent"],
  ["oos_recall", "Out-of-scope recall", "Out of scope"],
  ["sentiment_macro_recall", "Sentiment macro recall", "Sentiment"],
  ["retrieval_recall_at_1", "Retrieval recall@1", "Retrieval@1"],
];

/** 0.91234 → "91.23%"; null or missing → "–". */
export function measureText(value) {
  return typeof value === "number" ? `${(value * 100).toFixed(2)}%` : "–";
}

/** A change in points: 1.2 → "+1.20 pts", -20 → "−20.00 pts"; null → "–". */
export function changeText(points) {
  if (typeof points !== "number") return "–";
  const sign = points < 0 ? "−" : "+";
  return `${sign}${Math.abs(points).toFixed(2)} pts`;
}

/** The label of a measure the registry names ("retrieval_recall_at_1" → "Retrieval recall@1"). */
export function measureLabel(name) {
  const known = MEASURES.find(([key]) => key === name);
  return known ? known[1] : name;
}

/** The badge kind and text of a version's status. */
export function statusBadge(status) {
  if (status === "serving") return { text: "serving", kind: "warn" };
  if (status === "retired") return { text: "retired", kind: "muted" };
  return { text: "candidate", kind: "plain" };
}

/** What a promotion or rollback did, in words: "promoted v2 (forced) · was v1". */
export function changeLine(change, configured) {
  const name = (version) => version || `${configured || "the configured bundle"} (CXAGENT_NLU_BUNDLE)`;
  const verb = change.action === "rollback" ? "rolled back to" : "promoted";
  return `${verb} ${name(change.version)}${change.forced ? " (forced)" : ""} · was ${name(change.previous)}`;
}
