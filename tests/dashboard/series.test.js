import { test } from "node:test";
import assert from "node:assert/strict";
import { RingSeries, pushBounded } from "../../dashboard/js/series.js";

test("ring keeps the newest samples in order once full", () => {
  const r = new RingSeries(3);
  for (let i = 1; i <= 5; i += 1) r.push(i, i * 10, i % 2);
  assert.equal(r.length, 3);
  assert.deepEqual(r.window(), { t: [3, 4, 5], v: [30, 40, 50], flag: [1, 0, 1] });
});

test("window starts at fromS; nulls are breaks", () => {
  const r = new RingSeries(10);
  r.push(1, 1); r.push(2, null); r.push(3, 3);
  assert.deepEqual(r.window(2), { t: [2, 3], v: [null, 3], flag: [0, 0] });
  assert.deepEqual(r.window(99).t, []);
  r.clear();
  assert.equal(r.length, 0);
  assert.deepEqual(r.window().t, []);
});

test("pushBounded keeps the newest items", () => {
  const list = [];
  for (let i = 0; i < 5; i += 1) pushBounded(list, i, 3);
  assert.deepEqual(list, [2, 3, 4]);
});
