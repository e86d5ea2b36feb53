/* The satisfaction survey card (CSAT, NPS, CES and a comment) and the thanks that follows. */

import { h } from "../shared/dom.js";

const QUESTIONS = [
  ["csat", "How satisfied are you with the help you got?", 1, 5, "Very unsatisfied", "Very satisfied"],
  ["nps", "How likely are you to recommend us to a friend?", 0, 10, "Not at all likely", "Extremely likely"],
  ["ces", "How easy was it to get your issue handled?", 1, 7, "Very difficult", "Very easy"],
];

function scale(name, legend, from, to, low, high) {
  const options = [];
  for (let n = from; n <= to; n++) {
    const extra = n === from ? ` (${low})` : n === to ? ` (${high})` : "";
    options.push(
      h(
        "label",
        { class: "cx-opt" },
        h("input", { type: "radio", name, value: n }),
        h("span", {}, String(n), extra ? h("span", { class: "cx-sr", text: extra }) : null),
      ),
    );
  }
  return h(
    "fieldset",
    { class: "cx-q" },
    h("legend", { text: legend }),
    h("div", { class: `cx-scale cx-scale-${to - from + 1}` }, options),
    h("div", { class: "cx-ends", "aria-hidden": "true" }, h("span", { text: low }), h("span", { text: high })),
  );
}

/** The answers given in the form: {csat?, nps?, ces?, comment?}. */
function answersOf(form) {
  const answers = {};
  for (const [name] of QUESTIONS) {
    const checked = form.querySelector(`input[name="${name}"]:checked`);
    if (checked) answers[name] = Number(checked.value);
  }
  const comment = form.querySelector("textarea").value.trim();
  if (comment) answers.comment = comment;
  return answers;
}

/**
 * surveyForm(submit): submit(answers) resolves to "saved", "refused" (the server said no) or
 * "offline"; the form says what went wrong, the caller shows the thanks.
 */
export function surveyForm(submit) {
  const problem = h("p", { class: "cx-form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "cx-primary", "data-testid": "cx-survey-submit", text: "Submit" });
  const form = h(
    "form",
    { class: "cx-card cx-survey", "data-testid": "cx-survey", novalidate: true, "aria-labelledby": "cx-survey-title" },
    h("h3", { id: "cx-survey-title", tabindex: "-1", text: "How did we do?" }),
    h("p", { text: "Three quick questions — answer as many as you like." }),
    QUESTIONS.map((question) => scale(...question)),
    h("label", { class: "cx-comment-label", for: "cx-comment", text: "Anything else you'd like to tell us? (optional)" }),
    h("textarea", { id: "cx-comment", class: "cx-comment", name: "comment", rows: 2, maxlength: 2000 }),
    problem,
    button,
  );
  const say = (text) => {
    problem.textContent = text;
    problem.hidden = !text;
  };
  form.addEventListener("change", () => say(""));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const answers = answersOf(form);
    if (!Object.keys(answers).length) return say("Please answer at least one question before submitting.");
    say("");
    button.disabled = true;
    button.textContent = "Sending…";
    const outcome = await submit(answers);
    button.disabled = false;
    button.textContent = "Submit";
    if (outcome === "refused") say("Sorry, we couldn't save your answers. Please try again.");
    else if (outcome === "offline") say("Can't reach us right now. Please try again in a moment.");
  });
  return form;
}

export function thanksCard() {
  return h(
    "div",
    { class: "cx-card cx-thanks", "data-testid": "cx-survey-thanks", role: "status", tabindex: "-1" },
    h("div", { class: "cx-check", "aria-hidden": "true", text: "✓" }),
    h("p", { text: "Thank you for your feedback!" }),
  );
}
