/* The console's small building blocks, shared by its views. */

import { h } from "../shared/dom.js";

export function errorBox() {
  const box = h("div", { class: "alert", role: "alert", hidden: true });
  box.show = (message) => { box.textContent = message; box.hidden = false; };
  box.clear = () => { box.textContent = ""; box.hidden = true; };
  return box;
}

export function pageHeader(title, subtitle, ...actions) {
  return h("div", { class: "page-head" },
    h("div", null, h("h1", { text: title }), subtitle ? h("p", { class: "muted", text: subtitle }) : null),
    h("div", { class: "page-actions" }, actions));
}

export function badge(text, kind, attrs) {
  return h("span", { class: `badge ${kind ? `badge-${kind}` : ""}`, ...attrs }, text);
}

export function segmented(label, options, current, onChoose) {
  const group = h("div", { class: "segmented", role: "group", "aria-label": label });
  for (const option of options) {
    group.append(h("button", {
      type: "button",
      class: "seg",
      "aria-pressed": String(option.value === current),
      dataset: { value: String(option.value) },
      onclick: (event) => {
        for (const b of group.children) b.setAttribute("aria-pressed", String(b === event.currentTarget));
        onChoose(option.value);
      },
    }, option.label));
  }
  return group;
}
