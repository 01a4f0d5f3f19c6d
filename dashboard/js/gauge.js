// A semicircular gauge in SVG (0-100), drawn with a dash offset on a normalised path so it
// animates with CSS and needs no inline styles (the service's CSP forbids them).
const NS = "http://www.w3.org/2000/svg";

export function createGauge(container, { label, showText = true } = {}) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 120 70");
  svg.setAttribute("role", "img");
  svg.setAttribute("class", "gauge");
  svg.setAttribute("aria-label", label);
  const arc = "M 10 62 A 50 50 0 0 1 110 62";
  const track = document.createElementNS(NS, "path");
  const value = document.createElementNS(NS, "path");
  for (const [el, cls] of [[track, "track"], [value, "value"]]) {
    el.setAttribute("d", arc);
    el.setAttribute("class", cls);
    el.setAttribute("fill", "none");
    el.setAttribute("stroke-width", "12");
    el.setAttribute("stroke-linecap", "round");
    el.setAttribute("pathLength", "100");
    svg.append(el);
  }
  value.setAttribute("stroke-dasharray", "100 100");
  value.setAttribute("stroke-dashoffset", "100");
  const text = document.createElementNS(NS, "text");
  text.setAttribute("x", "60");
  text.setAttribute("y", "60");
  text.setAttribute("text-anchor", "middle");
  if (showText) svg.append(text);
  container.append(svg);
  return {
    svg,
    /** value 0-100 or null (nothing to show); caption is the accessible description. */
    set(v, caption) {
      const shown = typeof v === "number" ? Math.max(0, Math.min(100, v)) : 0;
      value.setAttribute("stroke-dashoffset", String(100 - shown));
      value.setAttribute("visibility", shown > 0.5 ? "visible" : "hidden"); // no stray round cap
      text.textContent = typeof v === "number" ? String(Math.round(v)) : "—";
      svg.setAttribute("aria-label", `${label}: ${caption}`);
      svg.dataset.value = typeof v === "number" ? String(v) : "";
    },
  };
}
