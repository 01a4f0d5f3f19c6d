// Pure decoding of live protocol v1 messages (docs/protocol.md) into view state, shared by
// the console, the calm-meter and replay. No DOM, no sockets: unit-tested with `node --test`.
import { RingSeries, pushBounded } from "./series.js";

export { formatValue } from "./format.js";

export const HORIZON_S = 300; // charts show the last 5 minutes
const BEATS_KEPT = 1200; // 5 min at up to 240 bpm
const TREND_KEPT = 1200;
const LIST_KEPT = 200;

// Beat flags in the tachogram series (docs/hrv.md: the artefact screen's verdicts).
export const BEAT_NORMAL = 0;
export const BEAT_ARTEFACT = 1;

function pacerEntry(change, p, tS) {
  return { change, breathsPerMin: p.breaths_per_min, exhaleRatio: p.exhale_ratio,
    effectiveS: p.effective_s, anchorS: p.anchor_s, source: p.source, tS };
}

/** Reads `#session=...&token=...` from a page URL fragment. */
export function parseFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return { session: params.get("session"), token: params.get("token") };
}

/** A fresh view state. */
export function createState() {
  return {
    title: "", sessionId: null, lastSeq: null, latestS: null, participants: new Map(),
    synchrony: null, synchronySeries: new RingSeries(TREND_KEPT), cues: [], markers: [],
    pacerHistory: [], clientView: { showNumbers: false }, resonance: null,
  };
}

/** Forgets everything streamed (a replay seek restarts the stream); keeps the roster. */
export function resetStream(state) {
  state.lastSeq = null;
  state.latestS = null;
  state.synchrony = null;
  state.synchronySeries.clear();
  state.cues = [];
  state.markers = [];
  state.pacerHistory = [];
  state.resonance = null;
  for (const p of state.participants.values()) Object.assign(p, blankParticipant(p.id, p.role, p.name));
}

function blankParticipant(id, role, name) {
  return {
    id, role, name, hrBpm: null, instantHrBpm: null, rmssdMs: null, lnRmssd: null,
    artefactPct: null, provisional: true, beats: 0, artefacts: 0, link: null, linkReason: null,
    contact: null, gapOpen: null, batteryPct: null, rejectedTotal: 0, calm: null, gaps: [],
    tachogram: new RingSeries(BEATS_KEPT), rmssdSeries: new RingSeries(TREND_KEPT),
    lnRmssdSeries: new RingSeries(TREND_KEPT),
  };
}

function participant(state, id) {
  if (!state.participants.has(id)) state.participants.set(id, blankParticipant(id, "other", id));
  return state.participants.get(id);
}

/** The participant with a role, or undefined. */
export function byRole(state, role) {
  return [...state.participants.values()].find((p) => p.role === role);
}

/** True while a participant's signal is lost (an open gap, or a link not streaming). */
export function signalLost(p) {
  return p.gapOpen !== null || (p.link !== null && p.link !== "streaming");
}

/**
 * Applies one message to the state; returns true when something visible changed.
 * Messages at or below the last seen seq are ignored (a resume may overlap).
 */
export function applyMessage(state, msg) {
  if (!msg || msg.v !== 1) return false;
  if (msg.type === "session") {
    state.title = msg.title;
    state.sessionId = msg.session_id;
    for (const p of msg.participants) Object.assign(participant(state, p.id), { role: p.role, name: p.name });
    // A viewer that joins late starts from the settings in force (added to v1 additively).
    if (typeof msg.show_numbers === "boolean") state.clientView = { showNumbers: msg.show_numbers };
    if (msg.pacer && !state.pacerHistory.some((p) => p.effectiveS === msg.pacer.effective_s)) {
      state.pacerHistory.push(pacerEntry("started", msg.pacer, msg.t_s));
      state.pacerHistory.sort((a, b) => a.effectiveS - b.effectiveS);
    }
    return true;
  }
  if (msg.type === "client_view") {
    state.clientView = { showNumbers: Boolean(msg.show_numbers) };
    if (typeof msg.seq !== "number") return true;
  }
  if (typeof msg.seq !== "number") return false;
  if (state.lastSeq !== null && msg.seq <= state.lastSeq) return false;
  state.lastSeq = msg.seq;
  if (typeof msg.t_s === "number") state.latestS = Math.max(state.latestS ?? msg.t_s, msg.t_s);
  const p = typeof msg.participant === "string" ? participant(state, msg.participant) : null;
  switch (msg.type) {
    case "beat": {
      const flagged = msg.artefact != null;
      if (msg.after_gap) p.tachogram.push(msg.t_s, null); // no line across a gap
      p.tachogram.push(msg.t_s, msg.hr_bpm, flagged ? BEAT_ARTEFACT : BEAT_NORMAL);
      p.instantHrBpm = msg.hr_bpm;
      p.beats += 1;
      if (flagged) p.artefacts += 1;
      return true;
    }
    case "metrics":
      Object.assign(p, {
        hrBpm: msg.hr_bpm, rmssdMs: msg.rmssd_ms, lnRmssd: msg.ln_rmssd ?? null,
        provisional: msg.provisional, artefactPct: msg.artefact_pct ?? null,
      });
      p.rmssdSeries.push(msg.t_s, msg.rmssd_ms);
      p.lnRmssdSeries.push(msg.t_s, msg.ln_rmssd ?? null);
      return true;
    case "calm":
      p.calm = {
        state: msg.state, value: msg.calm, band: msg.band, confidence: msg.confidence,
        baselineProgress: msg.baseline_progress,
      };
      return true;
    case "quality":
      Object.assign(p, { contact: msg.contact, gapOpen: msg.gap_open });
      return true;
    case "link":
      Object.assign(p, { link: msg.state, linkReason: msg.reason ?? null });
      return true;
    case "battery":
      p.batteryPct = msg.level_pct;
      return true;
    case "rejected":
      p.rejectedTotal = msg.rejected_total;
      return true;
    case "gap":
      pushBounded(p.gaps, { startS: msg.start_s, endS: msg.end_s, cause: msg.cause }, LIST_KEPT);
      return true;
    case "synchrony":
      state.synchrony = {
        tS: msg.t_s, status: msg.status, index: msg.index, lagS: msg.lag_s, leader: msg.leader,
        aboveChance: msg.above_chance, pValue: msg.p_value, confidence: msg.confidence,
        pacerRemoved: msg.pacer_removed,
      };
      state.synchronySeries.push(msg.t_s, msg.index, msg.above_chance ? 1 : 0);
      return true;
    case "cue":
      pushBounded(state.cues, { seq: msg.seq, tS: msg.t_s, kind: msg.kind, audience: msg.audience,
        text: msg.text, reason: msg.reason ?? [] }, LIST_KEPT);
      return true;
    case "marker":
      pushBounded(state.markers, { id: msg.id, tS: msg.t_s, text: msg.text }, LIST_KEPT);
      return true;
    case "pacer":
      pushBounded(state.pacerHistory, pacerEntry(msg.change, msg, msg.t_s), 16);
      return true;
    case "resonance":
      state.resonance = { ...msg };
      return true;
    case "client_view":
      return true;
    default:
      return false;
  }
}
