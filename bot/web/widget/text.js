/* Text shown in the widget: pure helpers and the one place links are made from plain text. */

import { h } from "../shared/dom.js";

const LINK = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'’]/g;

/** Plain text cut into pieces: {text} and {link} (http(s) URLs, trailing punctuation left out). */
export function linkify(text) {
  const pieces = [];
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    if (m.index > last) pieces.push({ text: text.slice(last, m.index) });
    pieces.push({ link: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

/** Text with clickable links, built from text nodes and <a> elements only. */
export function richText(text) {
  const fragment = document.createDocumentFragment();
  for (const piece of linkify(text)) {
    fragment.append(
      piece.link ? h("a", { href: piece.link, target: "_blank", rel: "noopener noreferrer", text: piece.link }) : piece.text,
    );
  }
  return fragment;
}

export function initial(name) {
  return (name || "?").trim().charAt(0).toUpperCase() || "?";
}

export function timeLabel(iso) {
  const d = iso ? new Date(iso) : new Date();
  return isNaN(d) ? "" : d.toLocaleString();
}

/** Who wrote a message, as the customer should read it. */
export function authorName(message, { botName, agentName }) {
  if (message.role === "bot") return botName;
  if (message.role === "customer") return "You";
  const author = message.author || message.agent || message.agent_name;
  return (typeof author === "string" && author) || agentName || "Support agent";
}
