/* Charts as inline SVG, built with the DOM builder: labelled for screen readers, no library. */

import { h, svg } from "../shared/dom.js";
import { fmtDay, sentimentLabel } from "./format.js";

export function sparkline(values) {
  const width = 96;
  const height = 26;
  if (!values || values.length === 0) return h("span", { class: "muted small", text: "no data" });
  const last = values[values.length - 1];
  const label = `Sentiment trend over ${values.length} message${values.length === 1 ? "" : "s"}: ` +
    `latest ${last.toFixed(2)} (${sentimentLabel(last)})`;
  const x = (i) => (values.length === 1 ? width / 2 : 3 + (i * (width - 6)) / (values.length - 1));
  const y = (v) => 3 + ((1 - Math.max(-1, Math.min(1, v))) / 2) * (height - 6);
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return svg("svg", { class: "sparkline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    svg("title", { text: label }),
    svg("line", { x1: 0, x2: width, y1: y(0), y2: y(0), class: "spark-zero" }),
    svg("polyline", { points, class: "spark-line" }),
    svg("circle", { cx: x(values.length - 1), cy: y(last), r: 2.6, class: `spark-dot ${sentimentLabel(last)}` }));
}

export const chartColors = { csat: "#2f6fed", nps: "#8b5cf6", ces: "#0f9d8a", resolved: "#2f6fed", negative: "#e5484d", neutral: "#b8bfca", positive: "#30a46c" };

export function niceTicks(min, max, count = 4) {
  const span = max - min || 1;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(span / count)))
    .find((s) => span / s <= count) || span / count;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) ticks.push(+v.toFixed(6));
  return ticks;
}

// Which day labels to print so they never overlap.
export function labelEvery(n, width) { return Math.max(1, Math.ceil(n / Math.max(1, Math.floor(width / 56)))); }

export function chartShell(label, width, height) {
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" },
    svg("title", { text: label }));
}

/* lineChart({days, series:[{name, color, values:[number|null]}], min, max, format, label}) */
export function lineChart({ days, series, min, max, format = (v) => String(v), tickFormat = format, label, height = 180, width = 520 }) {
  const pad = { l: 40, r: 12, t: 10, b: 24 };
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const root = chartShell(label, width, height);
  const x = (i) => pad.l + (days.length === 1 ? plotW / 2 : (i * plotW) / (days.length - 1));
  const y = (v) => pad.t + plotH - ((v - min) / (max - min || 1)) * plotH;
  for (const t of niceTicks(min, max)) {
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(t), y2: y(t), class: t === 0 && min < 0 ? "axis" : "grid" }),
      svg("text", { x: pad.l - 6, y: y(t) + 4, class: "tick", "text-anchor": "end", text: tickFormat(t) }));
  }
  root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + plotH, y2: pad.t + plotH, class: "axis" }));
  const every = labelEvery(days.length, plotW);
  days.forEach((d, i) => {
    if (i % every === 0 || i === days.length - 1 && days.length < 3) {
      root.append(svg("text", { x: x(i), y: height - 6, class: "tick", "text-anchor": "middle", text: fmtDay(d) }));
    }
  });
  for (const s of series) {
    // Days without data are not zeros: a faint dashed line bridges them, the solid line does not.
    const known = s.values.map((v, i) => [v, i]).filter(([v]) => v !== null && v !== undefined);
    if (known.length > 1) {
      root.append(svg("path", { d: known.map(([v, i], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(""), class: "line-gap", stroke: s.color }));
    }
    let path = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (path) root.append(svg("path", { d: path, class: "line", stroke: s.color }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, fill: s.color, class: "pt" },
        svg("title", { text: `${fmtDay(days[i])}: ${s.name} ${format(v)}` })));
    });
  }
  return root;
}

/* hBarChart({items:[{label, value}], label, format}) */
export function hBarChart({ items, label, format = (v) => String(v), color = "#2f6fed" }) {
  const width = 520;
  const row = 28;
  const labelW = 230;
  const height = items.length * row + 8;
  const root = chartShell(label, width, height);
  const max = Math.max(1, ...items.map((i) => i.value));
  const w = width - labelW - 56;
  items.forEach((item, i) => {
    const top = 4 + i * row;
    const text = item.label.length > 32 ? `${item.label.slice(0, 31)}…` : item.label;
    const bw = Math.max(2, (item.value / max) * w);
    root.append(
      svg("text", { x: labelW - 10, y: top + row / 2 + 4, class: "bar-label", "text-anchor": "end", text }, svg("title", { text: item.label })),
      svg("rect", { x: labelW, y: top + 5, width: w, height: row - 10, rx: 4, class: "bar-track" }),
      svg("rect", { x: labelW, y: top + 5, width: bw, height: row - 10, rx: 4, fill: color },
        svg("title", { text: `${item.label}: ${format(item.value)}` })),
      svg("text", { x: labelW + bw + 8, y: top + row / 2 + 4, class: "bar-value", text: format(item.value) }));
  });
  return root;
}

/* stackedBars({days, keys:[{key, name, color}], rows:[{...}], label}) */
export function stackedBars({ days, keys, rows, label, height = 190 }) {
  const width = 520;
  const pad = { l: 40, r: 12, t: 10, b: 24 };
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const root = chartShell(label, width, height);
  const totals = rows.map((r) => keys.reduce((s, k) => s + (r[k.key] || 0), 0));
  const max = Math.max(1, ...totals);
  let ticks = niceTicks(0, max, 4);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : max;
  // Round the axis up so the tallest bar stays under the top grid line.
  if (ticks[ticks.length - 1] < max) ticks = [...ticks, +(ticks[ticks.length - 1] + step).toFixed(6)];
  const top = ticks[ticks.length - 1];
  const y = (v) => pad.t + plotH - (v / top) * plotH;
  for (const t of ticks) {
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(t), y2: y(t), class: "grid" }),
      svg("text", { x: pad.l - 6, y: y(t) + 4, class: "tick", "text-anchor": "end", text: String(t) }));
  }
  const slot = plotW / Math.max(1, days.length);
  const bw = Math.max(3, Math.min(28, slot * 0.7));
  const every = labelEvery(days.length, plotW);
  rows.forEach((r, i) => {
    let acc = 0;
    const cx = pad.l + slot * i + slot / 2;
    for (const k of keys) {
      const v = r[k.key] || 0;
      if (!v) continue;
      root.append(svg("rect", { x: cx - bw / 2, y: y(acc + v), width: bw, height: Math.max(0.5, y(acc) - y(acc + v)), fill: k.color },
        svg("title", { text: `${fmtDay(days[i])}: ${v} ${k.name}` })));
      acc += v;
    }
    if (i % every === 0) root.append(svg("text", { x: cx, y: height - 6, class: "tick", "text-anchor": "middle", text: fmtDay(days[i]) }));
  });
  root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + plotH, y2: pad.t + plotH, class: "axis" }));
  return root;
}

export function legend(items) {
  return h("ul", { class: "legend", "aria-hidden": "true" },
    items.map((i) => h("li", null, swatch(i.color), i.name)));
}

/* Set through the style property: the console's Content-Security-Policy refuses style attributes. */
function swatch(color) {
  const span = h("span", { class: "swatch" });
  span.style.background = color;
  return span;
}

export function chartCard(name, title, subtitle, body, extraClass = "") {
  return h("section", { class: `card chart-card ${extraClass}`, "data-testid": `chart-${name}`, "aria-labelledby": `chart-${name}-title` },
    h("div", { class: "card-head" },
      h("h2", { id: `chart-${name}-title`, text: title }),
      subtitle ? h("span", { class: "muted small", text: subtitle }) : null),
    body);
}

export function emptyChart(text) { return h("div", { class: "chart-empty", text }); }
