// WCAG 2.x contrast (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio). Pure; the browser
// test runs it on the palette the page computes, in light and dark.

/** Parses "rgb(r, g, b)", "rgba(...)" or "#rrggbb" into [r, g, b] 0-255. */
export function parseColor(text) {
  const s = text.trim();
  const hex = /^#([0-9a-f]{6})$/i.exec(s);
  if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
  const rgb = /^rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/i.exec(s);
  if (rgb) return [rgb[1], rgb[2], rgb[3]].map(Number);
  throw new Error(`unparsed colour: ${text}`);
}

function channel(c) {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
}

export function relativeLuminance([r, g, b]) {
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** The contrast ratio of two colours (1 to 21). */
export function contrastRatio(a, b) {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
