/* Models (admins): the model versions in the registry with their measures on the company's
   test set, a candidate's metric table against what serves, promotion (refused when worse,
   unless forced, which is recorded) and rollback. Measuring is the command line's
   (`cxagent models evaluate`); this page only compares measures already taken, except for a
   retraining started here: `cxagent worker` trains, registers and measures the candidate, and
   this page follows its progress. */

import { h } from "../shared/dom.js";
import { api } from "./api.js";
import { relTime } from "./format.js";
import { MEASURES, changeLine, changeText, measureLabel, measureText, statusBadge } from "./model-measures.js";
import { isAdmin } from "./session.js";
import { badge, errorBox, pageHeader } from "./ui.js";

// How often the page asks how a queued or running retraining is getting on.
const RETRAINING_POLL_MS = 1500;
// RQ's statuses of a job that has not ended yet.
const UNFINISHED = new Set(["queued", "started", "deferred", "scheduled"]);

export function modelsView(main) {
  if (!isAdmin()) {
    main.append(pageHeader("Models", null), h("div", { class: "card empty" },
      h("h2", { text: "Admins only" }), h("p", { class: "muted", text: "Ask an admin to change the served model." })));
    return { name: "models" };
  }
  const errors = errorBox();
  const tbody = h("tbody");
  const comparison = h("section", { class: "card", "data-testid": "models-comparison", "aria-live": "polite", hidden: true });
  const history = h("ol", { class: "models-history", "data-testid": "models-history" });
  const serving = h("p", { class: "muted", "data-testid": "models-serving" });
  const rollback = h("button", {
    type: "button", class: "btn", "data-testid": "models-rollback",
    onclick: () => act(rollback, () => api("POST", "/api/staff/models/rollback")),
  }, "Roll back");
  const retrain = h("button", {
    type: "button", class: "btn btn-primary", "data-testid": "models-retrain",
    onclick: () => startRetraining(),
  }, "Retrain");
  const retraining = h("section", { class: "card", "data-testid": "models-retraining", "aria-live": "polite", hidden: true });
  let disposed = false;
  let poll = null;
  let following = false;

  main.append(
    pageHeader("Models", "Versions of the NLU model, measured on the company's test set.", retrain, rollback),
    errors, serving, retraining,
    h("div", { class: "card card-flush" }, h("table", { class: "table", "aria-label": "Model versions" },
      h("thead", null, h("tr", null,
        ["Version", "Status", "Registered", ...MEASURES.map(([, , short]) => short), "Corrections since"]
          .map((title) => h("th", { scope: "col", text: title })),
        h("th", { scope: "col" }, h("span", { class: "sr-only", text: "Actions" })))),
      tbody)),
    comparison,
    h("section", { class: "card" }, h("h2", { text: "Promotions and rollbacks" }), history));

  async function act(button, call) {
    button.disabled = true;
    try {
      await call();
      errors.clear();
      await load();
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    try {
      const models = await api("GET", "/api/staff/models");
      if (disposed) return;
      errors.clear();
      serving.textContent = models.serving
        ? `Serving ${models.serving}.`
        : `Serving the configured bundle (${models.configured_bundle || "none"}, CXAGENT_NLU_BUNDLE).`;
      if (!models.test_set) errors.show("The registry has no test set yet: name one with `cxagent models test-set`.");
      rollback.disabled = !models.serving;
      tbody.replaceChildren(...models.versions.slice().reverse().map(row));
      history.replaceChildren(...models.history.slice().reverse().map((change) => h("li", null,
        h("span", { text: changeLine(change, models.configured_bundle) }),
        h("span", { class: "muted small", text: ` — ${change.by}, ${relTime(change.at)}` }))));
    } catch (err) {
      if (err.status !== 401) errors.show(err.message);
    }
  }

  function row(version) {
    const status = statusBadge(version.status);
    const measures = version.measures || {};
    const compare = h("button", {
      type: "button", class: "btn btn-sm", "data-testid": "models-compare",
      "aria-label": `Compare ${version.version} with the serving model`,
      onclick: () => showComparison(version.version),
    }, "Compare");
    return h("tr", { "data-testid": "models-row", dataset: { version: version.version, status: version.status } },
      h("td", null, h("code", { text: version.version })),
      h("td", null, badge(status.text, status.kind)),
      h("td", null, h("div", { text: relTime(version.registered_at) }), h("div", { class: "muted small", text: `by ${version.registered_by}` })),
      ...MEASURES.map(([key]) => h("td", { class: "num", text: version.measures ? measureText(measures[key]) : "not measured" })),
      h("td", { class: "num", text: String(version.corrections_since) }),
      h("td", { class: "num" }, version.status === "serving" ? null : compare));
  }

  async function showComparison(version) {
    comparison.hidden = false;
    comparison.replaceChildren(h("p", { class: "muted", text: `Comparing ${version}…` }));
    try {
      const table = await api("GET", `/api/staff/models/${encodeURIComponent(version)}/comparison`);
      if (disposed) return;
      comparison.replaceChildren(...comparisonCard(version, table));
    } catch (err) {
      if (err.status !== 401) comparison.replaceChildren(h("p", { class: "form-error", role: "alert", text: err.message }));
    }
  }

  function comparisonCard(version, table) {
    const worse = Boolean(table.worse);
    const promote = (force) => {
      const button = h("button", {
        type: "button", class: force ? "btn btn-danger-ghost" : "btn btn-primary",
        "data-testid": force ? "models-force" : "models-promote",
        onclick: () => act(button, async () => {
          await api("POST", `/api/staff/models/${encodeURIComponent(version)}/promote`, { force });
          comparison.hidden = true;
        }),
      }, force ? "Promote anyway (recorded)" : "Promote");
      return button;
    };
    return [
      h("h2", { text: `${version} against ${table.serving}` }),
      h("table", { class: "table", "aria-label": "Metric table" },
        h("thead", null, h("tr", null, ["Measure", "Candidate", "Serving", "Change", "Verdict"].map((title) => h("th", { scope: "col", text: title })))),
        h("tbody", null, table.rows.map((r) => h("tr", { "data-testid": "models-measure", dataset: { measure: r.measure, worse: String(r.worse) } },
          h("td", { text: measureLabel(r.measure) }),
          h("td", { class: "num", text: measureText(r.candidate) }),
          h("td", { class: "num", text: measureText(r.serving) }),
          h("td", { class: "num", text: changeText(r.change) }),
          h("td", null, r.worse ? h("strong", { class: "form-error", text: `worse by more than ${table.tolerance_points} pts` }) : badge("ok", "plain")))))),
      worse
        ? h("p", { class: "form-error", role: "alert", "data-testid": "models-verdict", text: `Worse than what serves on: ${table.worse}.` })
        : h("p", { class: "form-ok", "data-testid": "models-verdict", text: "No worse than what serves on any measure." }),
      h("div", { class: "page-actions" }, worse ? promote(true) : promote(false)),
    ];
  }

  async function startRetraining() {
    retrain.disabled = true;
    try {
      const job = await api("POST", "/api/staff/models/retrainings");
      errors.clear();
      showJob(job);
      following = true;
      schedulePoll();
    } catch (err) {
      retrain.disabled = false;
      if (err.status !== 401) errors.show(err.message);
    }
  }

  function schedulePoll() {
    clearTimeout(poll);
    poll = setTimeout(loadRetrainings, RETRAINING_POLL_MS);
  }

  async function loadRetrainings() {
    try {
      const [latest] = await api("GET", "/api/staff/models/retrainings");
      if (disposed) return;
      const running = Boolean(latest) && UNFINISHED.has(latest.status);
      retrain.disabled = running;
      showJob(latest);
      if (running) {
        following = true;
        schedulePoll();
      } else if (following) {
        // It has just ended: its candidate (and its measures) are in the registry now.
        following = false;
        await load();
      }
    } catch (err) {
      if (disposed || err.status === 401) return;
      if (err.status === 503) {
        // No job queue here: retraining is the command line's (the message says how).
        retrain.disabled = true;
        retraining.hidden = false;
        retraining.replaceChildren(h("p", { class: "muted", "data-testid": "models-retraining-off", text: err.message }));
      } else {
        errors.show(err.message);
        // A passing failure (the service restarting, a dropped connection) must not end the
        // following: the job goes on in the worker whether the page asks or not.
        if (following) schedulePoll();
      }
    }
  }

  function showJob(job) {
    retraining.hidden = !job;
    if (!job) return;
    const who = ` — started by ${job.requested_by}${job.enqueued_at ? `, ${relTime(job.enqueued_at)}` : ""}`;
    const heading = h("h2", null, "Retraining", h("span", { class: "muted small", text: who }));
    if (UNFINISHED.has(job.status)) {
      const percent = Math.round(job.percent);
      const stage = job.status === "queued" ? "waiting for a worker (`cxagent worker`)" : job.stage;
      retraining.replaceChildren(heading,
        h("progress", { max: "100", value: String(job.percent), "data-testid": "models-retraining-progress", "aria-label": "Retraining progress" }),
        h("p", { "data-testid": "models-retraining-stage", text: `${stage[0].toUpperCase()}${stage.slice(1)}: ${percent}%` }));
    } else if (job.status === "finished") {
      retraining.replaceChildren(heading, h("p", { "data-testid": "models-retraining-done" },
        "Done: candidate ", h("code", { text: job.version }),
        ` registered and measured${job.corrections ? `, with ${job.corrections} corrected intents` : ""}` +
        `${job.onnx_precision ? `, exported for ONNX Runtime (${job.onnx_precision})` : ""}. Compare it below to promote it.`));
    } else {
      retraining.replaceChildren(heading, h("p", { class: "form-error", role: "alert", "data-testid": "models-retraining-error",
        text: `Failed: ${job.error || job.status}` }));
    }
  }

  load();
  loadRetrainings();
  return { name: "models", dispose: () => { disposed = true; clearTimeout(poll); } };
}
