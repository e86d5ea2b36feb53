/* The dashboard's "Suggested replies by entry": for each knowledge-base entry, how often people
   sent its suggestion as it was, edited it first, or left it beside the reply box; the most
   edited or ignored first, as those are the answers that need work. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";

export function suggestionUsageCard(days) {
  const body = h("tbody", null, h("tr", null, h("td", { colspan: "4", class: "muted empty-cell", text: "Loading…" })));
  const card = h("section", { class: "card card-flush wide", "aria-labelledby": "suggestion-usage-title" },
    h("div", { class: "card-head padded" },
      h("h2", { id: "suggestion-usage-title", text: "Suggested replies by entry" }),
      h("span", { class: "muted small", text: "the most edited or ignored first: answers that need work" })),
    h("table", { class: "table", "data-testid": "suggestion-usage" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col", text: "Entry" }),
        h("th", { scope: "col", class: "num", text: "Used" }),
        h("th", { scope: "col", class: "num", text: "Edited" }),
        h("th", { scope: "col", class: "num", text: "Ignored" }))),
      body));

  api("GET", `/api/staff/suggestions/by-entry?days=${days}`).then((report) => {
    body.replaceChildren(...(report.entries.length === 0
      ? [h("tr", null, h("td", { colspan: "4", class: "muted empty-cell", text: "No suggested replies sent in this period." }))]
      : report.entries.map((e) => h("tr", { "data-testid": "suggestion-usage-row", dataset: { entryId: e.entry_id } },
        h("td", null,
          h("div", { text: e.question || "(no longer in the knowledge base)" }),
          h("code", { class: "muted", text: e.entry_id })),
        h("td", { class: "num", "data-testid": "used", text: String(e.used) }),
        h("td", { class: "num", "data-testid": "edited", text: String(e.edited) }),
        h("td", { class: "num", "data-testid": "ignored", text: String(e.ignored) })))));
  }).catch((err) => {
    if (err.status === 401) return;
    body.replaceChildren(h("tr", null, h("td", { colspan: "4", class: "muted empty-cell", text: err.message })));
  });
  return card;
}
