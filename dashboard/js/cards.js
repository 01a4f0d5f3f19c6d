// One card per participant (the page's #participant-card template), shared by the console and
// replay: built once, with its charts, and the parts both views show filled in the same way.
import { tachogramChart, trendChart } from "./charts.js";
import { formatValue } from "./format.js";
import { createGauge } from "./gauge.js";

/** A function giving each participant's card, creating it in `container` on first use. */
export function participantCards(container, template, { gauge = false } = {}) {
  const cards = new Map(); // participant id -> {el, gauge, tacho, trend}
  return (p) => {
    let card = cards.get(p.id);
    if (card) return card;
    const el = template.content.firstElementChild.cloneNode(true);
    el.dataset.participant = p.id;
    container.append(el);
    const colorVar = p.role === "therapist" ? "--therapist" : "--client";
    card = {
      el,
      gauge: gauge ? createGauge(el.querySelector(".gauge-slot"), { label: "calm index" }) : null,
      tacho: tachogramChart(el.querySelector(".tachogram"), colorVar),
      trend: trendChart(el.querySelector(".trend"), [
        { label: "RMSSD (ms)", scale: "ms", colorVar },
        { label: "lnRMSSD", scale: "ln", colorVar: "--muted", dash: [6, 4] },
      ]),
    };
    cards.set(p.id, card);
    return card;
  };
}

export function cardField(el, name) {
  return el.querySelector(`[data-field="${name}"]`);
}

/** Name, role, HR, RMSSD, lnRMSSD, calm, gap and rejected counts, and both charts. */
export function renderCard(card, p, fromS, toS) {
  const { el } = card;
  el.dataset.role = p.role;
  el.querySelector(".name").textContent = p.name;
  el.querySelector(".role").textContent = p.role;
  el.querySelector('[data-metric="hr"]').textContent = formatValue(p.instantHrBpm ?? p.hrBpm);
  el.querySelector('[data-metric="rmssd"]').textContent = formatValue(p.rmssdMs);
  el.querySelector('[data-metric="lnrmssd"]').textContent = formatValue(p.lnRmssd, 2);
  el.querySelector('[data-metric="calm"]').textContent = formatValue(p.calm?.value);
  cardField(el, "gaps").textContent = String(p.gaps.length);
  cardField(el, "rejected").textContent = String(p.rejectedTotal);
  card.tacho.update(p, fromS, toS);
  card.trend.update([p.rmssdSeries, p.lnRmssdSeries], fromS, toS);
}
