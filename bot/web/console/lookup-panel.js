/* The "Look up" panel of a conversation: the agent who has the conversation runs a read action
   (an order's status, a refund, a return) for its customer and sees the answer, which the
   customer does not. One element for the view's life, so a live reload keeps the agent's
   choice, values, focus and answer. */

import { h } from "../shared/dom.js";
import { callMeta, outcomeLabel, outcomeTone, slotLabel, slotProblems } from "./action-calls.js";
import { api } from "./api.js";
import { session } from "./session.js";
import { badge, errorBox } from "./ui.js";

async function loadLookups() {
  if (session.lookups) return session.lookups;
  const list = await api("GET", "/api/staff/lookups");
  session.lookups = Array.isArray(list) ? list : [];
  return session.lookups;
}

/** ``onDone`` runs after each lookup (the view reloads, so the call shows in the transcript). */
export function lookupPanel(conversationId, onDone) {
  const errors = errorBox();
  const choice = h("select", { id: "lookup-action", "data-testid": "lookup-action" });
  const about = h("p", { class: "muted small lookup-about" });
  const fields = h("div", { class: "lookup-fields" });
  const run = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "lookup-run" }, "Look up");
  const result = h("div", { class: "lookup-result", "data-testid": "lookup-result", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "lookup-form", novalidate: true },
    h("label", { class: "field" }, h("span", { text: "Action" }), choice), about, fields, h("div", null, run));
  const el = h("section", {
    class: "card lookup", "data-testid": "lookup-panel", "aria-labelledby": "lookup-title", hidden: true,
  },
  h("h2", { id: "lookup-title", text: "Look up" }),
  h("p", { class: "muted small", text: "For you only: the customer sees nothing of it." }),
  errors, form, result);

  let lookups = [];
  const values = {}; // per action: { slot: value }, kept while the agent switches actions

  function current() {
    return lookups.find((l) => l.name === choice.value) || null;
  }

  function renderFields() {
    const lookup = current();
    about.textContent = lookup ? lookup.description : "";
    const mine = (values[choice.value] ||= {});
    fields.replaceChildren(...(lookup ? lookup.slots : []).map((slot) => {
      const inputId = `lookup-slot-${slot.name}`;
      return h("div", { class: "field" },
        h("label", { for: inputId, text: slotLabel(slot.name) }),
        h("input", {
          id: inputId, name: slot.name, "data-testid": inputId, value: mine[slot.name] || "",
          placeholder: slot.example, autocomplete: "off", spellcheck: "false", "aria-describedby": `${inputId}-error`,
          oninput: (e) => { mine[slot.name] = e.target.value; },
        }),
        h("span", { id: `${inputId}-error`, class: "form-error small", hidden: true }));
    }));
  }

  function showProblems(problems) {
    let first = null;
    for (const input of fields.querySelectorAll("input")) {
      const problem = problems[input.name];
      const note = fields.querySelector(`#${input.id}-error`);
      note.textContent = problem || "";
      note.hidden = !problem;
      input.setAttribute("aria-invalid", String(Boolean(problem)));
      if (problem && !first) first = input;
    }
    if (first) first.focus();
    return first === null;
  }

  function showAnswer(answer) {
    const data = answer.data && Object.keys(answer.data).length ? answer.data : null;
    result.replaceChildren(h("div", { class: "lookup-answer", dataset: { outcome: answer.outcome } },
      h("div", { class: "badges" },
        badge(outcomeLabel(answer.outcome), `outcome-${outcomeTone(answer.outcome)}`, { "data-testid": "lookup-outcome" }),
        h("span", { class: "muted small", text: [answer.action.replace(/_/g, " "), callMeta(answer)].filter(Boolean).join(" · ") })),
      h("p", { class: "lookup-text", "data-testid": "lookup-text", text: answer.text }),
      data ? h("details", null, h("summary", { text: "What the company's API answered" }),
        h("pre", { class: "lookup-data", "data-testid": "lookup-data", tabindex: "0", text: JSON.stringify(data, null, 2) })) : null));
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const lookup = current();
    if (!lookup) return;
    const slots = { ...(values[lookup.name] || {}) };
    if (!showProblems(slotProblems(lookup, slots))) return;
    errors.clear();
    run.disabled = true;
    try {
      const trimmed = Object.fromEntries(lookup.slots.map((s) => [s.name, String(slots[s.name] || "").trim()]));
      showAnswer(await api("POST", `/api/staff/conversations/${encodeURIComponent(conversationId)}/lookups`, { action: lookup.name, slots: trimmed }));
      onDone();
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    } finally {
      run.disabled = false;
    }
  });
  choice.addEventListener("change", () => { renderFields(); showProblems({}); });

  let ready = false;
  let wanted = false;
  loadLookups().then((list) => {
    lookups = list;
    choice.replaceChildren(...lookups.map((l) => h("option", { value: l.name, text: l.name.replace(/_/g, " ") })));
    renderFields();
    ready = true;
    el.hidden = !(wanted && lookups.length);
  }).catch(() => { /* no lookups on this server: the panel stays hidden */ });

  return {
    el,
    /** Shown while a person has the conversation, as the reply box is. */
    update(detail) {
      wanted = detail.status === "with_agent";
      if (ready) el.hidden = !(wanted && lookups.length);
    },
  };
}
