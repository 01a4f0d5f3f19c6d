import { test } from "node:test";
import assert from "node:assert/strict";
import { breathDurations, createSessionClock, pacerAt, pacerPhase } from "../../dashboard/js/pacer.js";

const pacer = { breathsPerMin: 6, exhaleRatio: 1.5, anchorS: 100, effectiveS: 100 };

test("durations split the period by the I:E ratio", () => {
  assert.deepEqual(breathDurations(6, 1.5), { period: 10, inhale: 4, exhale: 6 });
  assert.deepEqual(breathDurations(5, 1), { period: 12, inhale: 6, exhale: 6 });
});

test("phase follows the anchor: inhale, then exhale, repeating every period", () => {
  assert.equal(pacerPhase(pacer, 100).phase, "in");
  assert.equal(pacerPhase(pacer, 100).level, 0);
  const mid = pacerPhase(pacer, 102);
  assert.equal(mid.phase, "in");
  assert.ok(Math.abs(mid.within - 0.5) < 1e-9 && Math.abs(mid.level - 0.5) < 1e-9);
  const top = pacerPhase(pacer, 104);
  assert.equal(top.phase, "out");
  assert.ok(Math.abs(top.level - 1) < 1e-9);
  assert.equal(pacerPhase(pacer, 107).phase, "out");
  assert.ok(Math.abs(pacerPhase(pacer, 107).within - 0.5) < 1e-9);
  assert.equal(pacerPhase(pacer, 111).phase, "in");
  assert.ok(Math.abs(pacerPhase(pacer, 111).breath - pacerPhase(pacer, 101).breath) < 1e-9);
  assert.ok(Math.abs(pacerPhase(pacer, 99).breath - 0.9) < 1e-9, "before the anchor counts back");
  assert.equal(pacerPhase(null, 1), null);
  assert.equal(pacerPhase({ ...pacer, breathsPerMin: null }, 1), null);
});

test("a change takes effect at its effective_s", () => {
  const history = [pacer, { ...pacer, breathsPerMin: 5, effectiveS: 110, anchorS: 110 }];
  assert.equal(pacerAt(history, 99), null);
  assert.equal(pacerAt(history, 105).breathsPerMin, 6);
  assert.equal(pacerAt(history, 110).breathsPerMin, 5);
});

test("session clock takes the freshest message", () => {
  const clock = createSessionClock();
  assert.equal(clock.at(5), null);
  clock.observe(100, 10); // 2 s stale beat
  clock.observe(103, 11); // fresh
  clock.observe(101, 12);
  assert.equal(clock.at(20), 112);
});
