/* One conversation: the transcript with the model's reading of each message (and its
   correction) and each call to the company's API beside the message that caused it, the
   actions its status allows, the reply box with the suggested replies above it, the look-up
   panel, and the customer's profile. */

import { h } from "../shared/dom.js";
import { atMostEvery, debounce } from "../shared/timing.js";
import { callMeta, outcomeLabel, outcomeTone, placeCalls } from "./action-calls.js";
import { api, eraseCustomer, exportCustomer } from "./api.js";
import { STATUS_LABELS, fmtDateTime, initials, moneyFmt, pct, priorityLabel, readingLines, relTime, satisfactionClass, sentimentLabel, timeFmt } from "./format.js";
import { lookupPanel } from "./lookup-panel.js";
import { isAdmin, session } from "./session.js";
import { suggestionUse } from "./suggestion-use.js";
import { suggestionsPanel } from "./suggestions-panel.js";
import { badge, errorBox } from "./ui.js";

const TYPING_EVERY_MS = 3000;

export function conversationView(main, id) {
  const errors = errorBox();
  const head = h("div", { class: "conv-head" });
  const actions = h("div", { class: "conv-actions" });
  const transcript = h("ol", { class: "transcript", "aria-label": "Transcript", tabindex: "0" });
  const replyError = errorBox();
  const replyInput = h("textarea", {
    "data-testid": "reply-input", id: "reply-input", rows: "3",
    placeholder: "Write a reply… (Enter to send, Shift+Enter for a new line)",
    "aria-label": "Reply to the customer",
  });
  const sendButton = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reply-send" }, "Send");
  const replyForm = h("form", { class: "reply", hidden: true },
    replyInput, h("div", { class: "reply-bar" }, h("span", { class: "muted small", text: "The customer sees your name." }), sendButton));
  const banner = h("div", { class: "conv-banner", hidden: true });
  const customerTyping = h("p", {
    class: "customer-typing muted small", "data-testid": "customer-typing", role: "status", hidden: true,
    text: "The customer is typing…",
  });
  let customerTypingTimer = null;
  // Focusable: it scrolls on its own, and keyboard users must be able to scroll it.
  const side = h("aside", { class: "conv-side", "aria-label": "Customer", tabindex: "0" });
  const intentsList = h("datalist", { id: "known-intents" });
  // Built once: a live reload must not take the agent's values or focus from it.
  const lookup = lookupPanel(id, () => load());
  // What the reply starts from, reported with it; the panel stays while the view lives.
  const use = suggestionUse();
  const suggestions = suggestionsPanel(id, {
    use,
    onPick: (suggestion) => { replyInput.value = suggestion.answer; replyInput.focus(); },
  });
  // Admins only; built once, so that a live reload keeps a confirmation the admin has open.
  const privacy = isAdmin() ? privacyPanel(() => detail && detail.customer) : null;
  let sideCards = null;

  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#/queue", text: "← Queue" })),
    errors,
    h("div", { class: "conv-layout" },
      h("section", { class: "conv-main card card-flush", "aria-label": "Conversation" },
        head, transcript, customerTyping, banner, replyError, suggestions.el, replyForm),
      side),
    intentsList);

  let detail = null;
  let editing = null; // { messageId, value, focused } survives live reloads
  const typingGate = atMostEvery(TYPING_EVERY_MS);
  let loading = 0;
  let seenIds = new Set();

  async function load() {
    const ticket = ++loading;
    try {
      const data = await api("GET", `/api/staff/conversations/${encodeURIComponent(id)}`);
      if (ticket !== loading) return;
      detail = data;
      errors.clear();
      render();
    } catch (err) {
      if (ticket !== loading || err.status === 401) return;
      if (!detail) {
        head.replaceChildren(h("h1", { text: err.status === 404 ? "Conversation not found" : "Could not load the conversation" }));
      }
      errors.show(err.message);
    }
  }

  async function loadIntents() {
    if (session.intents) return fill();
    try {
      const list = await api("GET", "/api/staff/intents");
      session.intents = Array.isArray(list) ? list : [];
    } catch { session.intents = null; /* free text still works */ }
    fill();
    function fill() {
      intentsList.replaceChildren(...(session.intents || []).map((i) => h("option", { value: i })));
    }
  }

  async function act(button, method, path, body) {
    errors.clear();
    button.disabled = true;
    try {
      await api(method, path, body);
      await load();
      return true;
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
      return false;
    } finally {
      button.disabled = false;
    }
  }

  function render() {
    const c = detail;
    const name = c.customer.name || `Customer #${c.customer.id}`;
    const base = `/api/staff/conversations/${encodeURIComponent(c.conversation_id)}`;

    // Header with status and the actions this status allows.
    const buttons = [];
    if (c.status === "bot" || c.status === "waiting") {
      buttons.push(h("button", {
        type: "button", class: "btn btn-primary", "data-testid": "take",
        onclick: async (e) => { if (await act(e.currentTarget, "POST", `${base}/take`)) replyInput.focus(); },
      }, "Take over"));
    }
    if (c.status === "with_agent") {
      buttons.push(h("button", {
        type: "button", class: "btn", "data-testid": "hand-back",
        onclick: (e) => act(e.currentTarget, "POST", `${base}/hand-back`),
      }, "Hand back to bot"));
    }
    if (c.status !== "closed") {
      buttons.push(h("button", {
        type: "button", class: "btn btn-danger-ghost", "data-testid": "close",
        onclick: (e) => act(e.currentTarget, "POST", `${base}/close`),
      }, "Close"));
    }
    actions.replaceChildren(...buttons);
    const statusText = c.status === "with_agent" ? `with ${c.assigned_to || "agent"}` : STATUS_LABELS[c.status] || c.status;
    head.replaceChildren(
      h("div", { class: "conv-title" },
        h("span", { class: "avatar", "aria-hidden": "true", text: initials(c.customer.name || "#") }),
        h("div", null,
          h("h1", { text: name }),
          h("div", { class: "meta" },
            h("span", { class: `status status-${c.status}`, "data-testid": "conversation-status", dataset: { status: c.status } },
              h("span", { class: "dot", "aria-hidden": "true" }), statusText),
            h("span", { text: `via ${c.channel}` }),
            h("span", { title: fmtDateTime(c.started_at), text: `started ${relTime(c.started_at)}` }),
            c.queue ? h("span", { text: `${c.queue} queue · ${priorityLabel(c.priority)} priority` }) : null,
            h("span", { class: `score score-${satisfactionClass(c.predicted_satisfaction)}`, title: "Predicted satisfaction, 1 to 5" },
              `predicted ${c.predicted_satisfaction.toFixed(1)}`, h("span", { class: "score-of", text: " / 5" }))))),
      actions);

    // The reply box stays the same element across reloads so a draft and focus survive.
    const canReply = c.status === "with_agent";
    replyForm.hidden = !canReply;
    banner.hidden = canReply;
    banner.textContent = {
      bot: "The bot is answering. Take over to reply yourself.",
      waiting: "The customer is waiting for a person. Take over to reply.",
      closed: "This conversation is closed. It reopens with the bot if the customer writes again.",
    }[c.status] || "";

    lookup.update(c);
    suggestions.update(c);

    // After the reply box is shown or hidden: it changes the transcript's height.
    renderTranscript();

    renderSide();
  }

  function renderTranscript() {
    const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    const scrollTop = transcript.scrollTop;
    const grew = detail.messages.some((m) => !seenIds.has(m.id));
    const focusedEditor = editing && document.activeElement && document.activeElement.dataset.testid === "correct-intent-input";
    if (editing) editing.focused = Boolean(focusedEditor);
    if (detail.messages.length === 0) {
      transcript.replaceChildren(h("li", { class: "empty small", text: "No messages yet." }));
    } else {
      let lastDay = null;
      const placed = placeCalls(detail.messages, detail.action_calls);
      const nodes = [callsNode(placed.get(null))];
      for (const m of detail.messages) {
        const day = new Date(m.created_at).toDateString();
        if (day !== lastDay) {
          nodes.push(h("li", { class: "day-sep", "aria-hidden": "true" }, h("span", { text: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(m.created_at)) })));
          lastDay = day;
        }
        nodes.push(messageNode(m), callsNode(placed.get(m.id)));
      }
      transcript.replaceChildren(...nodes.filter(Boolean));
    }
    seenIds = new Set(detail.messages.map((m) => m.id));
    // Follow new messages, unless the agent scrolled up to read something.
    transcript.scrollTop = grew || nearBottom ? transcript.scrollHeight : scrollTop;
    if (editing && editing.focused) {
      const input = transcript.querySelector('[data-testid="correct-intent-input"]');
      if (input) input.focus();
    }
  }

  function messageNode(m) {
    const who = m.role === "customer" ? (detail.customer.name || "Customer") : m.role === "bot" ? "Bot" : (m.author || "Agent");
    const badges = h("div", { class: "msg-badges" });
    if (m.role === "customer") {
      const corrected = Boolean(m.corrected_intent);
      const intent = m.corrected_intent || m.intent;
      badges.append(...[
        intent
          ? badge(corrected ? `${intent} · corrected` : intent, corrected ? "corrected" : "intent", {
            "data-testid": "message-intent",
            title: corrected ? `Corrected by staff; the model said ${m.intent || "nothing"}` : "Intent the model read",
            dataset: { intent },
          })
          : badge("no intent", "muted", { "data-testid": "message-intent" }),
        m.intent_confidence !== null && m.intent_confidence !== undefined
          ? badge(`${Math.round(m.intent_confidence * 100)}%`, "plain", { title: "Intent confidence" }) : null,
        m.out_of_scope ? badge("out of scope", "warn", { title: "The bot judged this outside what it can answer" }) : null,
        m.sentiment ? badge(
          `${m.sentiment}${m.sentiment_score !== null && m.sentiment_score !== undefined ? ` ${m.sentiment_score >= 0 ? "+" : ""}${m.sentiment_score.toFixed(2)}` : ""}`,
          `sent-${m.sentiment}`, { title: "Sentiment, -1 to +1" }) : null,
        editing && editing.messageId === m.id ? null : h("button", {
          type: "button", class: "link-btn", "data-testid": "correct-intent",
          "aria-label": `Correct the intent of this message`,
          onclick: () => { editing = { messageId: m.id, value: m.corrected_intent || m.intent || "", focused: true }; loadIntents(); renderTranscript(); },
        }, "correct")].filter(Boolean));
    } else if (m.role === "bot") {
      const reason = m.decision_reason || "";
      if (m.decision) badges.append(badge(m.decision.replace(/_/g, " "), "decision", { title: reason || "Why: not recorded", tabindex: reason ? "0" : null, "aria-label": reason ? `Decision ${m.decision}: ${reason}` : null }));
      if (m.entry_id) badges.append(badge(m.entry_id, "entry", { title: m.score !== null && m.score !== undefined ? `Knowledge entry, match score ${m.score.toFixed(2)}` : "Knowledge entry" }));
    }
    const li = h("li", {
      class: `msg msg-${m.role}`,
      "data-testid": "message",
      dataset: { role: m.role, id: String(m.id) },
    },
    h("div", { class: "msg-meta" },
      h("span", { class: "msg-who", text: who }),
      h("time", { datetime: m.created_at, title: fmtDateTime(m.created_at), text: timeFmt.format(new Date(m.created_at)) })),
    h("div", { class: "bubble", text: m.text }),
    m.role === "customer" ? readingNode(m) : null,
    badges.childElementCount ? badges : null,
    editing && editing.messageId === m.id ? correctionForm(m) : null);
    return li;
  }

  // What the model read: each question, the corrected words, the topic a follow-up was read after.
  function readingNode(m) {
    const lines = readingLines(m.questions);
    if (lines.length === 0) return null;
    return h("ul", { class: "read-as", "data-testid": "read-as", "aria-label": "What the model read" },
      lines.map((line) => h("li", { "data-testid": "read-as-question" },
        h("span", { class: "read-label", text: `${line.label}: ` }),
        h("q", { text: line.text }),
        line.corrections.length ? h("span", { class: "muted", "data-testid": "read-as-corrections", text: ` (corrected ${line.corrections.join(", ")})` }) : null,
        line.topic ? h("span", { class: "muted", text: ` (read after the topic ${line.topic})` }) : null,
        line.intent ? badge(line.intent, "intent") : null,
        line.entry ? badge(line.entry, "entry") : null)));
  }

  // The calls to the company's API a message caused (or a person's lookups after it).
  function callsNode(calls) {
    if (!calls || calls.length === 0) return null;
    return h("li", { class: "calls", "aria-label": "Calls to the company's API" },
      h("ul", { class: "call-list" }, calls.map((call) => h("li", {
        class: `call call-${outcomeTone(call.outcome)}`,
        "data-testid": "action-call",
        dataset: { action: call.action, outcome: call.outcome, messageId: call.message_id == null ? "" : String(call.message_id) },
      },
      h("span", { class: "call-icon", "aria-hidden": "true", text: call.looked_up_by ? "⌕" : "⚙" }),
      h("span", { class: "call-who", text: call.looked_up_by ? `Looked up by ${call.looked_up_by}` : "Bot action" }),
      h("code", { class: "call-action", text: call.action }),
      badge(outcomeLabel(call.outcome), `outcome-${outcomeTone(call.outcome)}`, { "data-testid": "action-call-outcome" }),
      callMeta(call) ? h("span", { class: "call-meta muted", text: callMeta(call) }) : null,
      h("time", { class: "call-meta muted", datetime: call.created_at, title: fmtDateTime(call.created_at), text: timeFmt.format(new Date(call.created_at)) }),
      call.error ? h("span", { class: "call-error muted", text: call.error }) : null))));
  }

  function correctionForm(m) {
    const inputId = `correct-${m.id}`;
    const input = h("input", {
      id: inputId, "data-testid": "correct-intent-input", list: "known-intents", value: editing.value,
      autocomplete: "off", spellcheck: "false", required: true,
      oninput: (e) => { editing.value = e.target.value; },
    });
    const error = h("span", { class: "form-error small", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "correct-intent-save" }, "Save");
    return h("form", {
      class: "correct-form",
      onkeydown: (e) => { if (e.key === "Escape") { editing = null; renderTranscript(); } },
      onsubmit: async (e) => {
        e.preventDefault();
        const intent = input.value.trim();
        if (!intent) { error.textContent = "Pick an intent."; error.hidden = false; return; }
        save.disabled = true;
        try {
          await api("PUT", `/api/staff/messages/${m.id}/intent`, { intent });
          editing = null;
          await load();
        } catch (err) {
          if (err.status !== 401) { error.textContent = err.message; error.hidden = false; }
        } finally {
          save.disabled = false;
        }
      },
    },
    h("label", { for: inputId, class: "small", text: "Correct intent" }),
    input, save,
    h("button", { type: "button", class: "btn btn-sm", onclick: () => { editing = null; renderTranscript(); } }, "Cancel"),
    error);
  }

  function fact(label, value) {
    return [h("dt", { text: label }), h("dd", null, value === null || value === undefined || value === "" ? h("span", { class: "muted", text: "—" }) : value)];
  }

  function chips(list, empty = "—") {
    if (!list || list.length === 0) return h("span", { class: "muted", text: empty });
    return h("div", { class: "chips" }, list.map((x) => h("span", { class: "chip", text: String(x) })));
  }

  function renderSide() {
    const p = detail.customer;
    const tier = p.attributes && p.attributes.tier;
    const tendency = p.sentiment_tendency;
    const profile = h("section", { class: "card profile", "data-testid": "profile", "aria-labelledby": "profile-title" },
      h("div", { class: "profile-head" },
        h("span", { class: "avatar avatar-lg", "aria-hidden": "true", text: initials(p.name || "#") }),
        h("div", null,
          h("h2", { id: "profile-title", text: p.name || `Customer #${p.id}` }),
          h("div", { class: "badges" },
            tier !== undefined && tier !== null ? badge(String(tier), "tier") : null,
            p.segment ? badge(p.segment, "plain") : null,
            p.lifecycle_stage ? badge(p.lifecycle_stage, "plain") : null))),
      h("dl", { class: "facts" },
        fact("External id", p.external_id),
        fact("Email", p.email),
        fact("Tier", tier !== undefined && tier !== null ? String(tier) : null),
        fact("Segment", p.segment),
        fact("Lifecycle", p.lifecycle_stage),
        fact("Churn risk", p.churn_risk === null ? null : h("span", { class: p.churn_risk >= 0.5 ? "text-bad" : "", text: pct(p.churn_risk) })),
        fact("Lifetime value", p.lifetime_value === null ? null : moneyFmt.format(p.lifetime_value)),
        fact("Conversations", String(p.conversation_count)),
        fact("Messages", String(p.message_count)),
        fact("Sentiment", tendency === null ? null : h("span", { class: `sent-text sent-${sentimentLabel(tendency)}`, text: `${sentimentLabel(tendency)} (${tendency >= 0 ? "+" : ""}${tendency.toFixed(2)})` })),
        fact("CSAT history", p.csat_history.length ? h("div", { class: "csat-hist", "aria-label": `CSAT answers, oldest first: ${p.csat_history.join(", ")}` },
          p.csat_history.map((v) => h("span", { class: `csat-dot score-${satisfactionClass(v)}`, text: String(v), "aria-hidden": "true" }))) : null),
        fact("Channels", p.channels.length ? chips(p.channels) : null),
        fact("First seen", h("span", { title: fmtDateTime(p.first_seen_at), text: relTime(p.first_seen_at) })),
        fact("Top intents", p.top_intents.length ? chips(p.top_intents) : null)));

    const escalations = h("section", { class: "card", "aria-labelledby": "esc-title" },
      h("h2", { id: "esc-title", text: "Escalations" }),
      detail.escalations.length === 0
        ? h("p", { class: "muted small", text: "Never escalated." })
        : h("ol", { class: "escalations" }, detail.escalations.slice().reverse().map((e) =>
          h("li", { class: "esc" },
            h("div", { class: "esc-top" },
              h("strong", { text: e.reason }),
              h("span", { class: `prio prio-${e.priority}`, text: priorityLabel(e.priority) })),
            h("div", { class: "muted small" }, `${e.queue} queue · `, h("time", { datetime: e.created_at, title: fmtDateTime(e.created_at), text: relTime(e.created_at) })),
            e.rules && e.rules.length ? h("ul", { class: "rules" }, e.rules.map((r) =>
              h("li", null, h("code", { text: r.rule || "rule" }), r.why ? h("span", { class: "muted", text: ` — ${r.why}` }) : null))) : null))));
    // The look-up panel stays where it is; the cards around it are rebuilt.
    if (sideCards) {
      sideCards.profile.replaceWith(profile);
      sideCards.escalations.replaceWith(escalations);
    } else {
      side.replaceChildren(profile, lookup.el, escalations, privacy ? privacy.el : null);
    }
    sideCards = { profile, escalations };
  }

  async function send() {
    const text = replyInput.value.trim();
    if (!text) return;
    replyError.clear();
    sendButton.disabled = true;
    try {
      const startedFrom = use.report(text);
      await api("POST", `/api/staff/conversations/${encodeURIComponent(id)}/messages`,
        startedFrom ? { text, suggestions: startedFrom } : { text });
      use.sent();
      replyInput.value = "";
      typingGate.reset();
      await load();
    } catch (err) {
      if (err.status !== 401) replyError.show(err.message);
    } finally {
      sendButton.disabled = false;
      replyInput.focus();
    }
  }

  replyForm.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  replyInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  replyInput.addEventListener("input", () => {
    // Tell the customer someone is typing, at most every few seconds; best effort only.
    if (!replyInput.value.trim() || !typingGate()) return;
    api("POST", `/api/staff/conversations/${encodeURIComponent(id)}/typing`).catch(() => {});
  });

  const reload = debounce(load, 300);
  load();
  return {
    name: "conversation",
    onLive: (frame) => {
      if (!frame || frame.conversation_id === id) {
        customerTyping.hidden = true; // whatever they were writing has arrived
        reload();
      }
    },
    // The customer's widget says so every few seconds while they write; a pause hides it.
    onTyping: (frame) => {
      if (frame.conversation_id !== id) return;
      customerTyping.hidden = false;
      clearTimeout(customerTypingTimer);
      customerTypingTimer = setTimeout(() => { customerTyping.hidden = true; }, 6000);
    },
    dispose: () => { reload.cancel(); clearTimeout(customerTypingTimer); suggestions.dispose(); loading += 1; },
  };
}

/* The customer's data on request: export everything held about them as a JSON file, or erase
   it all after a confirmation that names them. Erasing takes this conversation away too, so the
   console goes back to the queue. */
function privacyPanel(currentCustomer) {
  const status = h("p", { class: "small muted", role: "status", "aria-live": "polite" });
  const error = errorBox();
  const exportButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "customer-export", onclick: download }, "Export data");
  const eraseButton = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-testid": "customer-erase", onclick: ask }, "Erase customer…");
  const confirmButton = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-testid": "customer-erase-confirm", onclick: erase }, "Erase for good");
  const cancelButton = h("button", { type: "button", class: "btn btn-sm", onclick: () => { confirmBox.hidden = true; eraseButton.focus(); } }, "Cancel");
  const question = h("p", { class: "small", id: "erase-question" });
  const confirmBox = h("div", { role: "alertdialog", "aria-labelledby": "erase-question", hidden: true },
    question, h("div", { class: "page-actions" }, confirmButton, cancelButton));
  const el = h("section", { class: "card", "data-testid": "privacy", "aria-labelledby": "privacy-title" },
    h("h2", { id: "privacy-title", text: "Customer data" }),
    h("p", { class: "muted small", text: "On the customer's request: a copy of everything held about them, or all of it erased. Both are recorded." }),
    h("div", { class: "page-actions" }, exportButton, eraseButton), confirmBox, error, status);

  async function download() {
    const customer = currentCustomer();
    if (!customer) return;
    error.clear();
    exportButton.disabled = true;
    try {
      const data = await exportCustomer(customer.id);
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: `customer-${customer.id}.json`, hidden: true });
      el.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 0);
      status.textContent = `Exported customer-${customer.id}.json.`;
    } catch (e) {
      error.show(e.message);
    } finally {
      exportButton.disabled = false;
    }
  }

  function ask() {
    const customer = currentCustomer();
    if (!customer) return;
    const who = customer.name || `Customer #${customer.id}`;
    const count = customer.conversation_count === 1 ? "1 conversation" : `${customer.conversation_count} conversations`;
    question.textContent = `Erase ${who} and everything held about them (${count}, their messages, surveys and profile)? This cannot be undone.`;
    confirmBox.hidden = false;
    confirmButton.focus();
  }

  async function erase() {
    const customer = currentCustomer();
    if (!customer) return;
    error.clear();
    confirmButton.disabled = true;
    try {
      await eraseCustomer(customer.id);
      location.hash = "#/queue";
    } catch (e) {
      error.show(e.message);
    } finally {
      confirmButton.disabled = false;
    }
  }

  return { el };
}
