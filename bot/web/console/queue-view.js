/* The queue: conversations that need a person (or, filtered, every conversation), live. */

import { h } from "../shared/dom.js";
import { debounce } from "../shared/timing.js";
import { api } from "./api.js";
import { sparkline } from "./charts.js";
import { STATUS_LABELS, fmtDateTime, initials, priorityLabel, relTime, satisfactionClass } from "./format.js";
import { badge, errorBox, pageHeader, segmented } from "./ui.js";

export function queueView(main) {
  let filter = sessionStorage.getItem("cxagent.queue.filter") || "all";
  const errors = errorBox();
  const tbody = h("tbody");
  const summary = h("p", { class: "muted", text: "Loading…" });
  const table = h("table", { class: "table queue-table" },
    h("caption", { class: "sr-only", text: "Escalated conversations, high-value customers first, then by priority, then newest" }),
    h("thead", null, h("tr", null,
      ["Customer", "Reason", "Priority", "Tier", "Sentiment", "Predicted CSAT", "Status", "Waiting since"]
        .map((title) => h("th", { scope: "col", text: title })))),
    tbody);
  const empty = h("div", { class: "empty", hidden: true });
  main.append(
    pageHeader("Queue", "Conversations that need a person. Updates live.",
      segmented("Filter the queue", [
        { value: "all", label: "All" },
        { value: "waiting", label: "Waiting" },
        { value: "mine", label: "Mine" },
        // Every conversation, the bot's too: where wrong intents are found and corrected.
        { value: "everything", label: "All conversations" },
      ], filter, (value) => { filter = value; sessionStorage.setItem("cxagent.queue.filter", value); load(); })),
    errors,
    h("div", { class: "card card-flush" }, table, empty),
    summary);

  let items = [];
  let loading = 0;

  async function load() {
    const ticket = ++loading;
    const query = {
      waiting: "?status=waiting",
      mine: "?mine=true",
      everything: "?status=bot&status=waiting&status=with_agent&status=closed&limit=200",
    }[filter] || "";
    try {
      const data = await api("GET", `/api/staff/queue${query}`);
      if (ticket !== loading) return; // a newer load overtook this one
      items = data;
      errors.clear();
      render();
    } catch (err) {
      if (ticket === loading && err.status !== 401) errors.show(err.message);
    }
  }

  function open(id) { location.hash = `#/conversations/${encodeURIComponent(id)}`; }

  function render() {
    tbody.replaceChildren(...items.map(row));
    table.hidden = items.length === 0;
    empty.hidden = items.length !== 0;
    empty.replaceChildren(
      h("div", { class: "empty-icon", "aria-hidden": "true", text: "✓" }),
      h("h2", { text: filter === "mine" ? "Nothing assigned to you"
        : filter === "everything" ? "No conversations yet" : "The queue is clear" }),
      h("p", { class: "muted", text: filter === "mine"
        ? "Conversations you take over show up here."
        : "No customer is waiting for a person right now. New escalations appear here as they happen." }));
    const waiting = items.filter((i) => i.status === "waiting").length;
    summary.textContent = items.length
      ? `${items.length} conversation${items.length === 1 ? "" : "s"} · ${waiting} waiting`
      : "";
  }

  function row(item) {
    const name = item.customer_name || `Customer #${item.customer_id}`;
    const link = h("a", { href: `#/conversations/${encodeURIComponent(item.conversation_id)}`, class: "row-link" }, name);
    const statusCell = item.status === "with_agent"
      ? h("span", { class: "status status-with_agent" }, h("span", { class: "dot", "aria-hidden": "true" }),
        "with ", h("strong", { text: item.assigned_to || "agent" }))
      : h("span", { class: `status status-${item.status}` }, h("span", { class: "dot", "aria-hidden": "true" }),
        STATUS_LABELS[item.status] || item.status);
    const sat = item.predicted_satisfaction;
    const tr = h("tr", {
      "data-testid": "queue-row",
      class: `queue-row${item.high_value ? " is-high-value" : ""}`,
      dataset: { conversationId: item.conversation_id },
      onclick: (event) => { if (!event.target.closest("a")) open(item.conversation_id); },
    },
    h("td", null, h("div", { class: "cust" },
      h("span", { class: "avatar avatar-sm", "aria-hidden": "true", text: initials(item.customer_name || "#") }),
      h("div", null, link, item.queue ? h("div", { class: "muted small", text: `${item.queue} queue` }) : null))),
    h("td", { "data-testid": "queue-reason", class: "reason", text: item.reason || "—" }),
    h("td", null, h("span", { class: `prio prio-${item.priority}`, text: priorityLabel(item.priority) })),
    h("td", null, h("div", { class: "badges" },
      item.tier ? badge(item.tier, "tier") : h("span", { class: "muted", text: "—" }),
      item.high_value ? badge("high value", "gold") : null)),
    h("td", null, sparkline(item.sentiment_trend)),
    h("td", null, h("span", {
      class: `score score-${satisfactionClass(sat)}`,
      title: "Predicted satisfaction, 1 (very unhappy) to 5 (very happy)",
    }, sat.toFixed(1), h("span", { class: "score-of", text: " / 5" }))),
    h("td", { "data-testid": "queue-status" }, statusCell),
    h("td", null, h("time", {
      datetime: item.waiting_since || "",
      title: fmtDateTime(item.waiting_since),
      dataset: { rel: item.waiting_since || "" },
      text: relTime(item.waiting_since),
    })));
    return tr;
  }

  const reload = debounce(load, 300);
  // Relative times drift; refresh them without a round trip.
  const clock = setInterval(() => {
    for (const t of tbody.querySelectorAll("time[data-rel]")) t.textContent = relTime(t.dataset.rel);
  }, 30000);
  load();
  return {
    name: "queue",
    onLive: () => reload(),
    dispose: () => { reload.cancel(); clearInterval(clock); loading += 1; },
  };
}
