// uPlot wrappers for the live views: a beat-by-beat HR tachogram (artefact beats drawn as
// separate red points, gaps shaded) and line trends. `update` is called at most once per
// animation frame by the views.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { BEAT_ARTEFACT } from "./protocol.js";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axes() {
  const stroke = cssVar("--muted");
  const grid = { stroke: cssVar("--line"), width: 1 };
  return [
    { stroke, grid, ticks: grid, values: (u, vals) => vals.map((v) => clockLabel(v)) },
    { stroke, grid, ticks: grid, size: 44 },
  ];
}

function clockLabel(tS) {
  const m = Math.floor(tS / 60);
  return `${m}:${String(Math.floor(tS % 60)).padStart(2, "0")}`;
}

function fit(el, make) {
  const chart = make(Math.max(200, el.clientWidth));
  new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height: chart.height })).observe(el);
  return chart;
}

/** A tachogram in `el`; update(participant, fromS, toS) redraws from its ring series. */
export function tachogramChart(el, colorVar) {
  let gaps = [];
  const danger = cssVar("--danger");
  const shade = (u) => {
    const { ctx } = u;
    ctx.save();
    ctx.fillStyle = cssVar("--warn");
    ctx.globalAlpha = 0.18;
    for (const g of gaps) {
      const x0 = u.valToPos(g.startS, "x", true);
      const x1 = u.valToPos(g.endS, "x", true);
      if (x1 >= u.bbox.left && x0 <= u.bbox.left + u.bbox.width) {
        ctx.fillRect(Math.max(x0, u.bbox.left), u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
      }
    }
    ctx.restore();
  };
  const chart = fit(el, (width) => new uPlot({
    width, height: 150, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false }, y: { auto: true } },
    axes: axes(),
    series: [
      {},
      { label: "HR (bpm)", stroke: cssVar(colorVar), width: 1.5, points: { show: false } },
      { label: "artefact beat", stroke: danger, fill: danger, paths: () => null,
        points: { show: true, size: 7, stroke: danger, fill: danger } },
    ],
    hooks: { drawClear: [shade] },
  }, [[], [], []], el));
  return {
    chart,
    update(p, fromS, toS) {
      const w = p.tachogram.window(fromS);
      const normal = w.v.map((v, i) => (w.flag[i] === BEAT_ARTEFACT ? null : v));
      const flagged = w.v.map((v, i) => (w.flag[i] === BEAT_ARTEFACT ? v : null));
      gaps = p.gaps;
      chart.batch(() => {
        chart.setData([w.t, normal, flagged], false);
        chart.setScale("x", { min: fromS, max: toS });
      });
      el.dataset.points = String(w.t.length);
      el.dataset.artefacts = String(flagged.filter((v) => v !== null).length);
    },
  };
}

/** Line trends (e.g. RMSSD and lnRMSSD) from ring series; update(seriesList, fromS, toS). */
export function trendChart(el, specs) {
  const chart = fit(el, (width) => new uPlot({
    width, height: 120, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false }, ...Object.fromEntries(specs.map((s) => [s.scale, { auto: true }])) },
    axes: [axes()[0], { ...axes()[1], scale: specs[0].scale },
      ...(specs[1] ? [{ ...axes()[1], scale: specs[1].scale, side: 1, grid: { show: false } }] : [])],
    series: [{}, ...specs.map((s) => ({ label: s.label, scale: s.scale, stroke: cssVar(s.colorVar), width: 1.5,
      dash: s.dash, points: { show: false }, spanGaps: false }))],
  }, [[], ...specs.map(() => [])], el));
  return {
    chart,
    update(seriesList, fromS, toS) {
      // Series share a time base when they are pushed together (metrics); take the first's.
      const windows = seriesList.map((s) => s.window(fromS));
      const n = Math.min(...windows.map((w) => w.t.length));
      chart.batch(() => {
        chart.setData([windows[0].t.slice(-n), ...windows.map((w) => w.v.slice(-n))], false);
        chart.setScale("x", { min: fromS, max: toS });
      });
      el.dataset.points = String(n);
    },
  };
}
