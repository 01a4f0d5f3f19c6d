// Pure dashboard modules, run with `node --test` (wrapped by tests/dashboard/test_node.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMessage, createState, formatValue, parseFragment } from "../../dashboard/js/protocol.js";
import { backoffDelayMs } from "../../dashboard/js/live.js";

test("parseFragment reads session and token", () => {
  assert.deepEqual(parseFragment("#session=abc&token=x.y-z"), { session: "abc", token: "x.y-z" });
  assert.deepEqual(parseFragment(""), { session: null, token: null });
});

test("session message names the participants", () => {
  const state = createState();
  applyMessage(state, { v: 1, type: "session", seq: 9, t_s: 1, title: "T",
    participants: [{ id: "a", role: "therapist", name: "Ann" }] });
  assert.equal(state.participants.get("a").name, "Ann");
  assert.equal(state.lastSeq, null, "the session message is not a resume point");
});

test("metrics and beats update a participant; stale seqs are ignored", () => {
  const state = createState();
  assert.equal(applyMessage(state, { v: 1, type: "metrics", seq: 2, t_s: 1, participant: "a",
    hr_bpm: 70, rmssd_ms: 40, n_beats: 10, window_s: 9, provisional: true }), true);
  assert.equal(applyMessage(state, { v: 1, type: "beat", seq: 3, t_s: 1, participant: "a",
    rr_ms: 800, hr_bpm: 75, after_gap: false }), true);
  assert.equal(applyMessage(state, { v: 1, type: "metrics", seq: 3, t_s: 1, participant: "a",
    hr_bpm: 1, rmssd_ms: 1, n_beats: 1, window_s: 1, provisional: false }), false);
  const a = state.participants.get("a");
  assert.deepEqual([a.hrBpm, a.rmssdMs, a.instantHrBpm, a.beats, state.lastSeq], [70, 40, 75, 1, 3]);
});

test("unknown versions are ignored", () => {
  assert.equal(applyMessage(createState(), { v: 2, type: "beat", seq: 1 }), false);
});

test("formatValue", () => {
  assert.equal(formatValue(71.6), "72");
  assert.equal(formatValue(null), "—");
  assert.equal(formatValue(3.14159, 1), "3.1");
});

test("backoff is capped and jittered", () => {
  assert.equal(backoffDelayMs(0, () => 1), 250);
  assert.equal(backoffDelayMs(20, () => 1), 10000);
  assert.equal(backoffDelayMs(3, () => 0), 0);
});

const P = "p1";
const beat = (seq, tS, hr, extra = {}) => ({ v: 1, type: "beat", seq, t_s: tS, participant: P,
  rr_ms: 60000 / hr, hr_bpm: hr, after_gap: false, artefact: null, ...extra });

test("beats fill the tachogram; artefacts are flagged; a gap breaks the line", async () => {
  const { BEAT_ARTEFACT, BEAT_NORMAL } = await import("../../dashboard/js/protocol.js");
  const state = createState();
  applyMessage(state, beat(1, 1.0, 60));
  applyMessage(state, beat(2, 2.0, 90, { artefact: "ectopic" }));
  applyMessage(state, beat(3, 9.0, 61, { after_gap: true }));
  const w = state.participants.get(P).tachogram.window();
  assert.deepEqual(w.t, [1, 2, 9, 9]);
  assert.deepEqual(w.v, [60, 90, null, 61]);
  assert.deepEqual(w.flag, [BEAT_NORMAL, BEAT_ARTEFACT, BEAT_NORMAL, BEAT_NORMAL]);
  assert.equal(state.participants.get(P).artefacts, 1);
});

test("calm, quality, link, gap, rejected, synchrony, cue, marker and pacer are decoded", async () => {
  const { signalLost } = await import("../../dashboard/js/protocol.js");
  const state = createState();
  const msgs = [
    { type: "calm", participant: P, state: "learning", calm: null, band: null, confidence: 0, baseline_progress: 0.4 },
    { type: "quality", participant: P, contact: false, gap_open: "contact_lost" },
    { type: "link", participant: P, state: "lost", reason: "out of range" },
    { type: "gap", participant: P, start_s: 3, end_s: 8, cause: "link_lost" },
    { type: "rejected", participant: P, reason: "odd", rejected_total: 4 },
    { type: "synchrony", status: "ok", confidence: 0.9, index: 0.4, lag_s: 3, leader: "therapist",
      effect_size: 5, p_value: 0.01, above_chance: true, in_phase: true, pacer_removed: false },
    { type: "cue", kind: "k", audience: "therapist", text: "Slow down", reason: [{ name: "client_calm", value: 31.5 }] },
    { type: "marker", id: "m1", text: "note" },
    { type: "pacer", change: "started", breaths_per_min: 6, exhale_ratio: 1.5, effective_s: 10, anchor_s: 10, source: "therapist" },
  ];
  msgs.forEach((m, i) => assert.equal(applyMessage(state, { v: 1, seq: i + 1, t_s: 10 + i, ...m }), true, m.type));
  const p = state.participants.get(P);
  assert.equal(p.calm.baselineProgress, 0.4);
  assert.equal(p.rejectedTotal, 4);
  assert.deepEqual(p.gaps, [{ startS: 3, endS: 8, cause: "link_lost" }]);
  assert.equal(signalLost(p), true);
  assert.equal(state.synchrony.leader, "therapist");
  assert.equal(state.cues[0].reason[0].value, 31.5);
  assert.equal(state.markers[0].text, "note");
  assert.equal(state.pacerHistory[0].breathsPerMin, 6);
  assert.equal(state.latestS, 18);
  Object.assign(p, { gapOpen: null, link: "streaming" });
  assert.equal(signalLost(p), false);
});

test("client_view toggles numbers; unknown types and missing seq change nothing", () => {
  const state = createState();
  assert.equal(applyMessage(state, { v: 1, type: "client_view", seq: 1, t_s: 0, show_numbers: true }), true);
  assert.equal(state.clientView.showNumbers, true);
  assert.equal(applyMessage(state, { v: 1, type: "mystery", seq: 2, t_s: 0 }), false);
  assert.equal(applyMessage(state, { v: 1, type: "beat", t_s: 0 }), false);
  assert.equal(applyMessage(state, null), false);
});

test("resetStream clears streamed data but keeps the roster", async () => {
  const { resetStream } = await import("../../dashboard/js/protocol.js");
  const state = createState();
  applyMessage(state, { v: 1, type: "session", seq: 0, t_s: 0, session_id: "s", title: "T",
    participants: [{ id: P, role: "client", name: "Bea" }] });
  applyMessage(state, beat(5, 1, 70));
  resetStream(state);
  assert.equal(state.lastSeq, null);
  assert.equal(state.participants.get(P).tachogram.length, 0);
  assert.equal(state.participants.get(P).name, "Bea");
  assert.equal(applyMessage(state, beat(1, 1, 70)), true, "a restarted stream's low seq is accepted");
});

test("a late joiner starts from the session message's pacer and show_numbers", () => {
  const state = createState();
  const pacer = { breaths_per_min: 5.5, exhale_ratio: 2, effective_s: 40, anchor_s: 40, source: "therapist" };
  const session = { v: 1, type: "session", seq: 7, t_s: 50, session_id: "s", title: "T",
    participants: [], show_numbers: true, pacer };
  applyMessage(state, session);
  applyMessage(state, session); // a reconnect repeats it: not duplicated
  assert.equal(state.clientView.showNumbers, true);
  assert.equal(state.pacerHistory.length, 1);
  assert.equal(state.pacerHistory[0].breathsPerMin, 5.5);
  assert.equal(state.pacerHistory[0].exhaleRatio, 2);
});

test("resonance messages are kept for the console", () => {
  const state = createState();
  assert.equal(applyMessage(state, { v: 1, type: "resonance", seq: 1, t_s: 5, state: "running",
    started_s: 5, step: 0, breaths_per_min: 7, step_end_s: 125, steps: [] }), true);
  assert.equal(state.resonance.breaths_per_min, 7);
});
