// Display formatting. Pure: unit-tested with `node --test`.

/** A number with fixed digits, or an em dash when there is none. */
export function formatValue(value, digits = 0) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

/** Session seconds as m:ss (or h:mm:ss from an hour). */
export function formatClock(tS) {
  if (typeof tS !== "number" || !Number.isFinite(tS)) return "—";
  const total = Math.max(0, Math.floor(tS));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A synchrony lag in words: who leads and by how much. */
export function formatLag(lagS, leader) {
  if (typeof lagS !== "number" || !Number.isFinite(lagS)) return "—";
  if (leader === "together" || Math.abs(lagS) < 0.25) return "together (no lag)";
  if (leader === "undetermined") return `${Math.abs(lagS).toFixed(1)} s (leader unclear)`;
  return `${leader} leads by ${Math.abs(lagS).toFixed(1)} s`;
}

/** A cue reason list as "name = value" text. */
export function formatReason(reason) {
  return (reason ?? [])
    .map(({ name, value }) => `${name.replaceAll("_", " ")} = ${typeof value === "number" ? formatValue(value, 1) : String(value)}`)
    .join(", ");
}
