/* The "Suggested replies" panel of a conversation the agent has: the knowledge base's three
   best answers to the customer's last message, worded as the bot would send them. A click puts
   one in the reply box, to edit and send. Fetched again when a new customer message arrives. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";
import { isAdmin, session } from "./session.js";
import { errorBox } from "./ui.js";

/** ``onPick(suggestion)`` puts the suggestion in the reply box; ``use`` is the suggestionUse()
    the reply reports from. */
export function suggestionsPanel(conversationId, { onPick, use }) {
  const errors = errorBox();
  const list = h("ul", { class: "suggestion-list", "data-testid": "suggestion-list", "aria-busy": "false" });
  const el = h("section", {
    class: "suggestions", "data-testid": "suggestions", "aria-labelledby": "suggestions-title", hidden: true,
  },
  h("div", { class: "suggestions-head" },
    h("h2", { id: "suggestions-title", text: "Suggested replies" }),
    h("span", { class: "muted small", text: "from the knowledge base, for the customer's last message: click one to edit it" })),
  errors, list);

  let forMessage = null; // the customer message the suggestions on screen answer
  let ticket = 0;

  async function load(messageId) {
    const mine = ++ticket;
    forMessage = messageId;
    list.setAttribute("aria-busy", "true");
    try {
      const data = await api("GET", `/api/staff/conversations/${encodeURIComponent(conversationId)}/suggestions`);
      if (mine !== ticket) return;
      errors.clear();
      forMessage = data.message_id;
      use.shown(data.message_id, data.suggestions.map((s) => s.entry_id));
      render(data.suggestions);
    } catch (err) {
      if (mine !== ticket || err.status === 401) return;
      forMessage = null; // try again with the next change
      list.replaceChildren();
      errors.show(err.message);
    } finally {
      if (mine === ticket) list.setAttribute("aria-busy", "false");
    }
  }

  function render(suggestions) {
    if (suggestions.length === 0) {
      list.replaceChildren(h("li", { class: "muted small", text: "No knowledge-base answer comes close." }));
      return;
    }
    list.replaceChildren(...suggestions.map((s) => h("li", null,
      h("button", {
        type: "button", class: "suggestion", "data-testid": "suggestion", dataset: { entryId: s.entry_id },
        title: `${s.entry_id}, match ${s.score.toFixed(2)}`,
        onclick: () => { use.picked(s.entry_id, s.answer); onPick(s); },
      },
      h("span", { class: "suggestion-question", text: s.question }),
      h("span", { class: "suggestion-answer", "data-testid": "suggestion-answer", text: s.answer }),
      h("span", { class: "suggestion-score muted small", text: `match ${s.score.toFixed(2)}` })))));
  }

  return {
    el,
    /** Shown while the signed-in person has the conversation; new suggestions for each new
        customer message. */
    update(detail) {
      const me = session.staff && detail.assigned_to === session.staff.name;
      const wanted = detail.status === "with_agent" && (me || isAdmin());
      el.hidden = !wanted;
      if (!wanted) { ticket += 1; forMessage = null; return; }
      const customer = detail.messages.filter((m) => m.role === "customer");
      const last = customer.length ? customer[customer.length - 1].id : null;
      if (last === null) {
        list.replaceChildren(h("li", { class: "muted small", text: "The customer has not written yet." }));
      } else if (last !== forMessage) {
        load(last);
      }
    },
    dispose() { ticket += 1; },
  };
}
