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
