/* The dashboard: KPIs and charts of satisfaction, resolution (by the bot, and by its actions in
   the company's systems), escalations, sentiment and intents over 7, 30 or 90 days, the
   questions the bot could not answer, and what became of the suggested replies per entry. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";
import { chartCard, chartColors, emptyChart, hBarChart, legend, lineChart, stackedBars } from "./charts.js";
import { fmtDate, fmtDateTime, pct, relTime } from "./format.js";
import { canEditKnowledge } from "./knowledge-view.js";
import { suggestionUsageCard } from "./suggestion-usage.js";
import { errorBox, pageHeader, segmented } from "./ui.js";

export function dashboardView(main) {
  let days = Number(sessionStorage.getItem("cxagent.dashboard.days")) || 30;
  const errors = errorBox();
  const body = h("div", { class: "dash", "aria-busy": "true" }, h("p", { class: "muted", text: "Loading…" }));
  const range = h("p", { class: "muted small" });
  main.append(
    pageHeader("Dashboard", null,
      range,
      segmented("Period", [7, 30, 90].map((d) => ({ value: d, label: `${d} days` })), days,
        (value) => { days = value; sessionStorage.setItem("cxagent.dashboard.days", String(value)); load(); })),
    errors, body);

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api("GET", `/api/staff/dashboard?days=${days}`);
      if (ticket !== loading) return;
      errors.clear();
      render(data);
    } catch (err) {
      if (ticket === loading && err.status !== 401) {
        errors.show(err.status === 404 ? "The dashboard is not available on this server yet." : err.message);
        body.replaceChildren();
      }
    } finally {
      if (ticket === loading) body.setAttribute("aria-busy", "false");
    }
  }

  function kpi(name, label, value, hint, tone) {
    return h("div", { class: `kpi${tone ? ` kpi-${tone}` : ""}`, "data-testid": `kpi-${name}` },
      h("div", { class: "kpi-label", text: label }),
      h("div", { class: "kpi-value", "data-testid": "kpi-value", text: value }),
      h("div", { class: "kpi-hint muted small", text: hint }));
  }

  // The server lists only days with data; fill the gaps so time axes are continuous and a
  // quiet day shows as a gap, not as a missing tick.
  function dayRange(since, until) {
    const out = [];
    const end = new Date(until);
    const cur = new Date(since);
    cur.setUTCHours(0, 0, 0, 0);
    for (let i = 0; cur <= end && i < 400; i += 1) {
      out.push(cur.toISOString().slice(0, 10));
      cur.setUTCDate(cur.getUTCDate() + 1);
    }
    return out;
  }

  function fill(allDays, rows, blank) {
    const byDay = new Map((rows || []).map((r) => [r.day, r]));
    return allDays.map((day) => byDay.get(day) || { day, ...blank });
  }

  function render(d) {
    const allDays = dayRange(d.since, d.until);
    range.textContent = `${fmtDate(d.since)} – ${fmtDate(d.until)}`;
    const sat = fill(allDays, d.satisfaction, { responses: 0, csat: null, nps: null, ces: null });
    const { csat, nps, ces } = d.satisfaction_overall;
    const share = d.resolution ? d.resolution.share : null;
    const t = d.totals || {};
    const byActions = d.resolved_by_actions || { conversations: 0, share: null };

    const kpis = h("div", { class: "kpis" },
      kpi("conversations", "Conversations", String(t.conversations ?? 0), `${t.messages ?? 0} messages · ${t.escalations ?? 0} escalations`),
      kpi("resolved", "Resolved by the bot", pct(share), d.resolution ? `${d.resolution.without_person} of ${d.resolution.conversations} without a person` : "", share === null ? null : share >= 0.7 ? "good" : share >= 0.4 ? "ok" : "bad"),
      kpi("actions", "Resolved by actions", String(byActions.conversations ?? 0),
        `${pct(byActions.share)} of conversations: an action found it, no person needed`),
      kpi("csat", "CSAT", csat === null ? "—" : `${Math.round(csat)}%`, "answers of 4 or 5", csat === null ? null : csat >= 80 ? "good" : csat >= 60 ? "ok" : "bad"),
      kpi("nps", "NPS", nps === null ? "—" : `${nps > 0 ? "+" : ""}${Math.round(nps)}`, "promoters − detractors", nps === null ? null : nps >= 30 ? "good" : nps >= 0 ? "ok" : "bad"),
      kpi("ces", "CES", ces === null ? "—" : ces.toFixed(1), "1 hard – 7 easy", ces === null ? null : ces >= 5 ? "good" : ces >= 4 ? "ok" : "bad"),
      kpi("surveys", "Surveys", String(t.surveys ?? 0), "answered"));

    // Satisfaction: three small line charts, since CSAT, NPS and CES have different scales.
    const satDays = sat.map((r) => r.day);
    const answered = sat.some((r) => r.responses > 0);
    const satBody = !answered ? emptyChart("No surveys yet") : h("div", { class: "multiples" },
      [
        { key: "csat", name: "CSAT %", min: 0, max: 100, format: (v) => `${Math.round(v)}%` },
        { key: "nps", name: "NPS", min: -100, max: 100, format: (v) => `${Math.round(v)}` },
        { key: "ces", name: "CES", min: 1, max: 7, format: (v) => v.toFixed(1), tickFormat: (v) => String(v) },
      ].map((m) => {
        const values = sat.map((r) => r[m.key]);
        const known = values.filter((v) => v !== null && v !== undefined);
        const summaryText = known.length
          ? `${m.name} by day over ${satDays.length} days: from ${m.format(known[0])} to ${m.format(known[known.length - 1])}`
          : `${m.name}: no answers in this period`;
        return h("figure", { class: "multiple" },
          h("figcaption", { text: m.name }),
          known.length ? lineChart({ days: satDays, series: [{ name: m.name, color: chartColors[m.key], values }], min: m.min, max: m.max, format: m.format, tickFormat: m.tickFormat || m.format, label: summaryText, height: 170, width: 380 })
            : emptyChart(`No ${m.name} answers`));
      }));

    const res = fill(allDays, d.resolution_by_day, { conversations: 0, without_person: 0 });
    const resShares = res.map((r) => (r.conversations ? (r.without_person / r.conversations) * 100 : null));
    const resKnown = resShares.filter((v) => v !== null);
    const resBody = resKnown.length === 0 ? emptyChart("No conversations yet") : lineChart({
      days: res.map((r) => r.day),
      series: [{ name: "resolved without a person", color: chartColors.resolved, values: resShares }],
      min: 0, max: 100, format: (v) => `${Math.round(v)}%`,
      label: `Share of conversations resolved without a person, by day: overall ${pct(share)}, latest day ${Math.round(resKnown[resKnown.length - 1])}%`,
    });

    const esc = d.escalations_by_reason || [];
    const escBody = esc.length === 0 ? emptyChart("No escalations in this period") : hBarChart({
      items: esc.map((e) => ({ label: e.reason, value: e.count })),
      color: "#e5484d",
      label: `Escalations by reason: ${esc.map((e) => `${e.reason} ${e.count}`).join(", ")}`,
    });

    const sent = fill(allDays, d.sentiment, { negative: 0, neutral: 0, positive: 0, mean_score: null });
    const sentTotals = sent.reduce((a, r) => ({ negative: a.negative + r.negative, neutral: a.neutral + r.neutral, positive: a.positive + r.positive }), { negative: 0, neutral: 0, positive: 0 });
    const sentAll = sentTotals.negative + sentTotals.neutral + sentTotals.positive;
    const sentKeys = [
      { key: "negative", name: "negative", color: chartColors.negative },
      { key: "neutral", name: "neutral", color: chartColors.neutral },
      { key: "positive", name: "positive", color: chartColors.positive },
    ];
    const sentBody = sentAll === 0 ? emptyChart("No customer messages yet") : h("div", null,
      stackedBars({
        days: sent.map((r) => r.day), keys: sentKeys, rows: sent,
        label: `Customer messages by sentiment per day: ${sentTotals.negative} negative, ${sentTotals.neutral} neutral, ${sentTotals.positive} positive in total`,
      }),
      legend(sentKeys));

    const intents = d.top_intents || [];
    const intentBody = intents.length === 0 ? emptyChart("No intents recognised yet") : hBarChart({
      items: intents.map((i) => ({ label: i.intent, value: i.count })),
      label: `Top intents: ${intents.map((i) => `${i.intent} ${i.count}`).join(", ")}`,
    });

    const unanswered = d.unanswered || [];
    const editing = canEditKnowledge();
    const table = h("section", { class: "card card-flush wide", "aria-labelledby": "unanswered-title" },
      h("div", { class: "card-head padded" },
        h("h2", { id: "unanswered-title", text: "Questions the bot could not answer" }),
        h("span", { class: "muted small", text: "candidates for new knowledge entries" })),
      h("table", { class: "table", "data-testid": "unanswered" },
        h("thead", null, h("tr", null, h("th", { scope: "col", text: "Question" }), h("th", { scope: "col", class: "num", text: "Times asked" }), h("th", { scope: "col", text: "Last asked" }),
          editing ? h("th", { scope: "col" }, h("span", { class: "sr-only", text: "Knowledge base" })) : null)),
        h("tbody", null, unanswered.length === 0
          ? h("tr", null, h("td", { colspan: editing ? "4" : "3", class: "muted empty-cell", text: "Nothing unanswered in this period." }))
          : unanswered.map((u) => h("tr", { "data-testid": "unanswered-row" },
            h("td", { class: "question", text: u.text }),
            h("td", { class: "num", text: String(u.count) }),
            h("td", null, h("time", { datetime: u.last_at, title: fmtDateTime(u.last_at), text: relTime(u.last_at) })),
            editing ? h("td", null, toKnowledge(u.text)) : null)))));

    body.replaceChildren(
      kpis,
      h("div", { class: "grid-2" },
        chartCard("satisfaction", "Satisfaction over time", "CSAT · NPS · CES by day", satBody, "wide"),
        chartCard("resolution", "Resolved without a person", "share of conversations by day", resBody),
        chartCard("escalations", "Escalations by reason", `${t.escalations ?? 0} in total`, escBody),
        chartCard("sentiment", "Sentiment over time", "customer messages per day", sentBody),
        chartCard("intents", "Top intents", "what customers ask about", intentBody),
        table,
        suggestionUsageCard(days)));
  }

  // An unanswered question becomes a new entry (the Knowledge page's form, the question filled
  // in), or one more question of an entry: "Add to entry…", choose it, "Add".
  let entryChoices = null;
  function toKnowledge(question) {
    const status = h("span", { class: "small muted", role: "status", "data-testid": "unanswered-status" });
    const choose = h("select", { "data-testid": "unanswered-entry", "aria-label": `Entry to add "${question}" to`, hidden: true });
    const add = h("button", { type: "button", class: "btn btn-sm btn-primary", "data-testid": "unanswered-add", hidden: true }, "Add");
    const open = h("button", { type: "button", class: "btn btn-sm", "data-testid": "unanswered-add-to-entry" }, "Add to entry…");
    open.addEventListener("click", async () => {
      open.disabled = true;
      try {
        entryChoices = entryChoices || (await api("GET", "/api/staff/knowledge/entries")).filter((e) => !e.retired);
        choose.replaceChildren(...entryChoices.map((e) => h("option", { value: e.id, text: `${e.id} — ${e.content.questions[0]}` })));
        open.hidden = true;
        choose.hidden = false;
        add.hidden = false;
        choose.focus();
      } catch (err) {
        if (err.status !== 401) status.textContent = err.message;
        open.disabled = false;
      }
    });
    add.addEventListener("click", async () => {
      add.disabled = true;
      try {
        const entry = await api("POST", `/api/staff/knowledge/entries/${encodeURIComponent(choose.value)}/questions`, { question });
        status.textContent = `Added to ${entry.id}.`;
        choose.hidden = true;
        add.hidden = true;
      } catch (err) {
        if (err.status !== 401) status.textContent = err.message;
        add.disabled = false;
      }
    });
    return h("div", { class: "unanswered-actions" },
      h("a", { class: "btn btn-sm", href: `#/knowledge/new/${encodeURIComponent(question)}`, "data-testid": "unanswered-new-entry" }, "New entry"),
      open, choose, add, status);
  }

  load();
  return { name: "dashboard", dispose: () => { loading += 1; } };
}
