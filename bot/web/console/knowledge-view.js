/* The Knowledge page (#/knowledge, #/knowledge/{id}, #/knowledge/new/{question}): editors and
   admins list the knowledge base's entries, edit one (questions, answer, fallback, variants,
   intent, the action it runs), retire it, see its history with who changed what, compare two versions and revert
   to one. A saved change is live on every worker within seconds; the server checks the rules
   (slots need a fallback, …) and its refusal is shown as it is. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";
import { fmtDateTime, relTime } from "./format.js";
import { session } from "./session.js";
import { badge, errorBox, pageHeader } from "./ui.js";

const BASE = "/api/staff/knowledge/entries";
const entryUrl = (id) => `${BASE}/${encodeURIComponent(id)}`;

/** Editors and admins change the knowledge base; agents do not see the page. */
export const canEditKnowledge = () => Boolean(session.staff) && ["editor", "admin"].includes(session.staff.role);

/** {tier: "gold", segment: "vip"} → "tier=gold, segment=vip" */
export function whenText(when) {
  return Object.entries(when || {}).map(([key, value]) => `${key}=${value}`).join(", ");
}

/** "tier=gold, segment=vip" → {tier: "gold", segment: "vip"}; a part without "=" is kept as a
    key with an empty value, for the server to refuse with its reason. */
export function parseWhen(text) {
  const when = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at < 0) when[part] = "";
    else when[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return when;
}

/** The entry document the API takes, from the form's values: one question per line, empty
    optional fields left out. */
export function entryDocument({ id, intent, questions, answer, fallback, variants, action = "" }) {
  const document = {
    id: id.trim(),
    intent: intent.trim(),
    questions: questions.split("\n").map((q) => q.trim()).filter(Boolean),
    answer: answer.trim(),
    variants: variants.map((v) => ({
      when: parseWhen(v.when),
      answer: v.answer.trim(),
      ...(v.fallback.trim() ? { fallback: v.fallback.trim() } : {}),
    })),
  };
  if (fallback.trim()) document.fallback = fallback.trim();
  if (action) document.action = action;
  return document;
}

/** A suggested id for a new entry from a customer's question: "Do you gift wrap?" → "new.do_you_gift_wrap". */
export function suggestedId(question) {
  const words = question.toLowerCase().replace(/[^a-z0-9 ]+/g, " ").split(/\s+/).filter(Boolean).slice(0, 6);
  return words.length ? `new.${words.join("_")}` : "";
}

const ACTION_NAMES = { import: "imported", create: "created", edit: "edited", retire: "retired", revert: "reverted" };

// The list's filter outlives the view, which is mounted again for each entry opened.
let lastFilter = "";

const show = (value) => (value === undefined || value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value, null, 1));

export function knowledgeView(main, id, route = {}) {
  if (!canEditKnowledge()) {
    main.append(pageHeader("Knowledge base", null), h("div", { class: "alert", role: "alert", text: "Only editors and admins can change the knowledge base." }));
    return { name: "knowledge" };
  }
  const errors = errorBox();
  const filter = h("input", { type: "search", class: "kb-filter", "data-testid": "kb-filter", placeholder: "Filter by id, question or answer", "aria-label": "Filter entries", value: lastFilter });
  const list = h("tbody");
  const panel = h("div", { class: "kb-panel" });
  const newButton = h("a", { class: "btn btn-primary btn-sm", href: "#/knowledge/new", "data-testid": "kb-new" }, "New entry");
  main.append(
    pageHeader("Knowledge base", "What the bot answers from. Changes are live within seconds.", newButton),
    errors,
    h("div", { class: "kb-layout" },
      h("div", { class: "card card-flush kb-list" },
        h("div", { class: "padded kb-list-head" }, filter),
        h("table", { class: "table", "data-testid": "kb-entries" },
          h("thead", null, h("tr", null, ["Entry", "Intent", "Version"].map((t) => h("th", { scope: "col", text: t })))),
          list)),
      panel));

  let entries = [];
  let actions = [];
  let disposed = false;

  async function loadList() {
    try {
      entries = await api("GET", BASE);
      if (disposed) return;
      errors.clear();
      renderList();
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    }
  }

  function renderList() {
    lastFilter = filter.value;
    const needle = filter.value.trim().toLowerCase();
    const shown = entries.filter((e) => !needle || JSON.stringify(e.content).toLowerCase().includes(needle));
    list.replaceChildren(...shown.map((e) => h("tr", { "data-testid": "kb-entry-row", dataset: { id: e.id }, class: `${e.retired ? "is-inactive" : ""}${e.id === id ? " is-selected" : ""}` },
      h("td", null, h("a", { href: `#/knowledge/${encodeURIComponent(e.id)}`, text: e.id }),
        e.retired ? badge("retired", "plain") : null,
        h("div", { class: "muted small kb-first-question", text: e.content.questions[0] })),
      h("td", null, h("code", { text: e.content.intent })),
      h("td", { class: "num", text: `v${e.version}` }))));
    list.querySelector(".is-selected")?.scrollIntoView({ block: "nearest" });
  }
  filter.addEventListener("input", renderList);

  async function openEntry() {
    try {
      actions = await api("GET", "/api/staff/knowledge/actions");
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    }
    if (disposed) return;
    if (!id || id === "new") return renderEditor(null, route.question || "");
    try {
      const entry = await api("GET", entryUrl(id));
      if (!disposed) renderEditor(entry);
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    }
  }

  function renderEditor(entry, question = "") {
    const content = entry ? entry.content : { id: suggestedId(question), intent: "", questions: question ? [question] : [], answer: "", variants: [] };
    const formError = h("p", { class: "form-error", role: "alert", "data-testid": "kb-error", hidden: true });
    const formOk = h("p", { class: "form-ok", role: "status", "data-testid": "kb-saved", hidden: true });
    const input = (name, value, attrs = {}) => h("input", { name, value: value || "", "data-testid": `kb-${name}`, autocomplete: "off", ...attrs });
    const area = (name, value, rows) => { const t = h("textarea", { name, rows: String(rows), "data-testid": `kb-${name}` }); t.value = value || ""; return t; };
    const field = (label, control, hint) => h("label", { class: "field" }, h("span", { text: label }), control, hint ? h("small", { class: "muted", text: hint }) : null);
    const idInput = input("id", content.id, entry ? { readonly: true } : {});
    const intent = input("intent", content.intent);
    const questions = area("questions", content.questions.join("\n"), 5);
    const answer = area("answer", content.answer, 4);
    const fallback = area("fallback", content.fallback, 3);
    const variantRows = h("div", { class: "kb-variants" });
    const addVariant = (v = { when: {}, answer: "", fallback: "" }) => {
      const row = h("fieldset", { class: "kb-variant", "data-testid": "kb-variant" },
        h("legend", { class: "small", text: "Variant" }),
        field("When (profile)", input("variant-when", whenText(v.when), { placeholder: "tier=gold" })),
        field("Answer", input("variant-answer", v.answer)),
        field("Fallback", input("variant-fallback", v.fallback || "")),
        h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", onclick: () => row.remove() }, "Remove variant"));
      variantRows.append(row);
    };
    (content.variants || []).forEach(addVariant);
    // The entry's own action, or none: the one the actions file names for the entry or intent.
    const action = h("select", { name: "action", "data-testid": "kb-action-select" },
      h("option", { value: "", text: entry && entry.action && !content.action ? `As the actions file says (${entry.action})` : "As the actions file says" }),
      actions.map((a) => h("option", { value: a.name, text: `${a.name}${a.writes ? " (changes things)" : ""}`, selected: a.name === content.action })));
    const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "kb-save" }, entry ? "Save" : "Create entry");
    const retire = entry && !entry.retired ? h("button", { type: "button", class: "btn btn-danger-ghost", "data-testid": "kb-retire" }, "Retire") : null;
    const form = h("form", { class: "card kb-form", "aria-labelledby": "kb-form-title", novalidate: true },
      h("div", { class: "card-head" },
        h("h2", { id: "kb-form-title", text: entry ? entry.id : "New entry" }),
        entry ? h("span", { class: "muted small", text: `version ${entry.version}${entry.retired ? " · retired" : ""}` }) : null),
      field("Id", idInput, entry ? null : "letters, digits, dots, dashes, underscores; cannot change later"),
      field("Intent", intent),
      field("Questions", questions, "one way a customer asks per line"),
      field("Answer", answer, "may use {customer_name}, {order_id}, {email}"),
      field("Fallback", fallback, "the answer without slots, used when a slot is unknown"),
      field("Action", action, "what the bot does in the company's systems when it answers with this entry"),
      h("div", null, h("h3", { class: "small", text: "Variants" }), variantRows,
        h("button", { type: "button", class: "btn btn-sm", "data-testid": "kb-add-variant", onclick: () => addVariant() }, "Add variant")),
      formError, formOk,
      h("div", { class: "kb-buttons" }, save, retire));

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      formError.hidden = true;
      formOk.hidden = true;
      const document = entryDocument({
        id: idInput.value, intent: intent.value, questions: questions.value, answer: answer.value, fallback: fallback.value, action: action.value,
        variants: [...variantRows.querySelectorAll(".kb-variant")].map((row) => ({
          when: row.querySelector("[name=variant-when]").value,
          answer: row.querySelector("[name=variant-answer]").value,
          fallback: row.querySelector("[name=variant-fallback]").value,
        })),
      });
      save.disabled = true;
      try {
        const saved = entry
          ? await api("PUT", entryUrl(entry.id), { entry: document, base_version: entry.version })
          : await api("POST", BASE, document);
        if (!entry) { location.hash = `#/knowledge/${encodeURIComponent(saved.id)}`; return; }
        await loadList();
        renderEditor(saved);
        panel.querySelector("[data-testid=kb-saved]").textContent = `Saved as version ${saved.version}. Live within seconds.`;
        panel.querySelector("[data-testid=kb-saved]").hidden = false;
      } catch (err) {
        if (err.status !== 401) { formError.textContent = err.message; formError.hidden = false; save.disabled = false; }
      }
    });
    if (retire) {
      retire.addEventListener("click", async () => {
        retire.disabled = true;
        try {
          const saved = await api("POST", `${entryUrl(entry.id)}/retire`, { base_version: entry.version });
          await loadList();
          renderEditor(saved);
        } catch (err) {
          if (err.status !== 401) { formError.textContent = err.message; formError.hidden = false; retire.disabled = false; }
        }
      });
    }
    const history = entry ? historyCard(entry) : null;
    panel.replaceChildren(form, history);
  }

  function historyCard(entry) {
    const rows = h("ol", { class: "kb-history", "data-testid": "kb-history" });
    const comparison = h("div", { class: "kb-compare", "data-testid": "kb-compare", "aria-live": "polite" });
    const problem = h("p", { class: "form-error", role: "alert", hidden: true });
    const card = h("section", { class: "card", "aria-labelledby": "kb-history-title" },
      h("h2", { id: "kb-history-title", text: "History" }), problem, rows, comparison);
    const fail = (err) => { if (err.status !== 401) { problem.textContent = err.message; problem.hidden = false; } };

    (async () => {
      let versions;
      try {
        versions = await api("GET", `${entryUrl(entry.id)}/history`);
      } catch (err) {
        return fail(err);
      }
      rows.replaceChildren(...versions.map((v, index) => {
        const older = versions[index + 1];
        const what = v.action === "revert" ? `reverted to v${v.reverted_to}` : ACTION_NAMES[v.action] || v.action;
        return h("li", { "data-testid": "kb-version", dataset: { version: String(v.version), action: v.action } },
          h("div", null,
            h("strong", { text: `v${v.version}` }), " ", h("span", { text: what }), " by ",
            h("span", { "data-testid": "kb-author", text: v.author || "import" }), " ",
            h("time", { datetime: v.created_at, title: fmtDateTime(v.created_at), class: "muted small", text: relTime(v.created_at) })),
          h("div", { class: "kb-version-buttons" },
            older ? h("button", { type: "button", class: "btn btn-sm", "data-testid": "kb-compare-previous", onclick: () => compare(older.version, v.version) }, `Compare with v${older.version}`) : null,
            v.version !== entry.version ? h("button", { type: "button", class: "btn btn-sm", "data-testid": "kb-revert", onclick: (e) => revert(v.version, e.currentTarget) }, "Revert to this") : null));
      }));
    })();

    async function compare(older, newer) {
      try {
        const c = await api("GET", `${entryUrl(entry.id)}/compare?older=${older}&newer=${newer}`);
        comparison.replaceChildren(
          h("h3", { class: "small", text: `v${older} → v${newer}` }),
          c.changes.length === 0 ? h("p", { class: "muted small", text: "No differences." }) :
            h("table", { class: "table kb-diff" },
              h("thead", null, h("tr", null, ["Field", `v${older}`, `v${newer}`].map((t) => h("th", { scope: "col", text: t })))),
              h("tbody", null, c.changes.map((d) => h("tr", { "data-testid": "kb-change", dataset: { field: d.field } },
                h("th", { scope: "row", text: d.field }),
                h("td", null, h("del", { text: show(d.before) })),
                h("td", null, h("ins", { text: show(d.after) })))))));
      } catch (err) {
        fail(err);
      }
    }

    async function revert(version, button) {
      button.disabled = true;
      try {
        const saved = await api("POST", `${entryUrl(entry.id)}/revert`, { version });
        await loadList();
        renderEditor(saved);
      } catch (err) {
        fail(err);
        button.disabled = false;
      }
    }
    return card;
  }

  loadList();
  openEntry();
  return { name: "knowledge", dispose: () => { disposed = true; } };
}
