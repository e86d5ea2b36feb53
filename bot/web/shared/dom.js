/* The one DOM builder of the widget and the console. Text only ever goes in as text
   (textContent or text nodes), never as HTML, so server text cannot inject markup. */

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * h("div", {class: "x", text: "hi", onclick: fn, dataset: {id: "7"}}, child, "text", [more]):
 * attributes that are null, undefined or false are left out; true sets an empty attribute;
 * children may be nodes, strings, numbers or (nested) arrays of them; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** The same for SVG elements (which need their namespace). */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child.nodeType ? child : document.createTextNode(String(child)));
  }
  return node;
}
