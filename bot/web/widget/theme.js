/* The accent colour and what reads on it: WCAG contrast maths, pure except normaliseColor. */

/** Any CSS colour the browser accepts, as "#rrggbb" (or rgba(...) when translucent); else null. */
export function normaliseColor(value) {
  if (!value || !window.CSS || !CSS.supports("color", value)) return null;
  const ctx = document.createElement("canvas").getContext("2d");
  if (!ctx) return value;
  ctx.fillStyle = "#000";
  ctx.fillStyle = value;
  return ctx.fillStyle;
}

export function rgb(color) {
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (m) return m.slice(1).map((x) => parseInt(x, 16));
  m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  return m ? m.slice(1).map(Number) : [79, 70, 229];
}

export function luminance(color) {
  const [r, g, b] = rgb(color).map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** The CSS custom properties of the accent: text on it, focus ring, header gradient end. */
export function accentProperties(color) {
  // Text on the accent: whichever of white or near-black reads better on it.
  const onAccent = contrast(color, "#ffffff") >= contrast(color, "#111827") ? "#ffffff" : "#111827";
  // The header gradient deepens away from its text colour, so the title keeps its contrast.
  const deep = onAccent === "#ffffff" ? "#000" : "#fff";
  return {
    "--cx-accent": color,
    "--cx-on-accent": onAccent,
    "--cx-accent-2": `color-mix(in srgb, ${color} 74%, ${deep})`,
    "--cx-focus": contrast(color, "#ffffff") >= 3 ? color : "#1c2030",
  };
}
