import { test } from "node:test";
import assert from "node:assert/strict";
import { formatClock, formatLag, formatReason, formatValue } from "../../dashboard/js/format.js";
import { contrastRatio, parseColor, relativeLuminance } from "../../dashboard/js/contrast.js";

test("formatValue and formatClock", () => {
  assert.equal(formatValue(Number.NaN), "—");
  assert.equal(formatClock(65.9), "1:05");
  assert.equal(formatClock(3725), "1:02:05");
  assert.equal(formatClock(null), "—");
});

test("formatLag names the leader", () => {
  assert.equal(formatLag(3, "therapist"), "therapist leads by 3.0 s");
  assert.equal(formatLag(-2.5, "client"), "client leads by 2.5 s");
  assert.equal(formatLag(0, "together"), "together (no lag)");
  assert.equal(formatLag(null, "client"), "—");
});

test("formatReason", () => {
  assert.equal(formatReason([{ name: "client_calm", value: 31.54 }, { name: "rising", value: true }]),
    "client calm = 31.5, rising = true");
});

test("WCAG contrast", () => {
  assert.deepEqual(parseColor("#ff8000"), [255, 128, 0]);
  assert.deepEqual(parseColor("rgb(1, 2, 3)"), [1, 2, 3]);
  assert.throws(() => parseColor("hsl(1 2 3)"));
  assert.equal(relativeLuminance([255, 255, 255]), 1);
  assert.equal(Math.round(contrastRatio([0, 0, 0], [255, 255, 255])), 21);
  assert.ok(Math.abs(contrastRatio([118, 118, 118], [255, 255, 255]) - 4.54) < 0.01);
});
