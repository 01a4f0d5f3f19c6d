// Pure decoding of live protocol v1 messages (docs/protocol.md) into view state.
// No DOM, no sockets: unit-tested with `node --test`.

/** Reads `#session=...&token=...` from a page URL fragment. */
export function parseFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return { session: params.get("session"), token: params.get("token") };
}

/** A fresh view state. */
export function createState() {
  return { title: "", lastSeq: null, participants: new Map() };
}

function participant(state, id) {
  if (!state.participants.has(id)) {
    state.participants.set(id, {
      id, role: "other", name: id, hrBpm: null, instantHrBpm: null, rmssdMs: null,
      provisional: true, beats: 0, link: null, contact: null, gapOpen: null, batteryPct: null,
    });
  }
  return state.participants.get(id);
}

/**
 * Applies one message to the state; returns true when something visible changed.
 * Messages at or below the last seen seq are ignored (a resume may overlap).
 */
export function applyMessage(state, msg) {
  if (msg.v !== 1) return false;
  if (msg.type === "session") {
    state.title = msg.title;
    for (const p of msg.participants) Object.assign(participant(state, p.id), { role: p.role, name: p.name });
    return true;
  }
  if (typeof msg.seq !== "number") return false;
  if (state.lastSeq !== null && msg.seq <= state.lastSeq) return false;
  state.lastSeq = msg.seq;
  const p = msg.participant === undefined ? null : participant(state, msg.participant);
  switch (msg.type) {
    case "beat":
      p.instantHrBpm = msg.hr_bpm;
      p.beats += 1;
      return true;
    case "metrics":
      Object.assign(p, { hrBpm: msg.hr_bpm, rmssdMs: msg.rmssd_ms, provisional: msg.provisional });
      return true;
    case "quality":
      Object.assign(p, { contact: msg.contact, gapOpen: msg.gap_open });
      return true;
    case "link":
      p.link = msg.state;
      return true;
    case "battery":
      p.batteryPct = msg.level_pct;
      return true;
    default:
      return false;
  }
}

/** Formats a number for display, or an em dash when there is none. */
export function formatValue(value, digits = 0) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}
