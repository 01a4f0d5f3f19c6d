// Therapist console: both participants' live HR and RMSSD, updated on every beat.
// The therapist is signed in (login cookie), so the page needs only #session=…; a #token=…
// (a link token) is still passed on if present.
import { applyMessage, createState, formatValue, parseFragment } from "./protocol.js";
import { connectLive } from "./live.js";

const state = createState();
const { session, token } = parseFragment(location.hash);
const cards = document.getElementById("participants");
const template = document.getElementById("participant-card");
const connection = document.getElementById("connection");
let frameRequested = false;

function card(p) {
  let el = cards.querySelector(`[data-participant="${CSS.escape(p.id)}"]`);
  if (!el) {
    el = template.content.firstElementChild.cloneNode(true);
    el.dataset.participant = p.id;
    el.dataset.role = p.role;
    cards.append(el);
  }
  return el;
}

function render() {
  frameRequested = false;
  if (state.title) document.getElementById("title").textContent = state.title;
  const ordered = [...state.participants.values()].sort((a, b) => a.role.localeCompare(b.role)).reverse();
  for (const p of ordered) {
    const el = card(p);
    el.querySelector(".name").textContent = p.name;
    el.querySelector(".role").textContent = p.role;
    el.querySelector(".hr").textContent = formatValue(p.instantHrBpm ?? p.hrBpm);
    const rmssd = el.querySelector(".rmssd");
    rmssd.textContent = formatValue(p.rmssdMs);
    rmssd.classList.toggle("provisional", p.provisional);
    rmssd.title = p.provisional ? "warming up: under 30 s of beats" : "";
    const lost = p.gapOpen !== null || (p.link !== null && p.link !== "streaming");
    const link = el.querySelector(".link");
    link.textContent = lost ? `signal lost (${p.gapOpen ?? p.link})` : p.link ?? "waiting for strap";
    link.classList.toggle("lost", lost);
    el.querySelector(".contact").textContent = p.contact === null ? "contact n/a" : p.contact ? "contact ok" : "no skin contact";
    el.querySelector(".battery").textContent = p.batteryPct === null ? "" : `battery ${p.batteryPct}%`;
  }
}

function scheduleRender() {
  // Render at most once per animation frame, however fast messages arrive.
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

if (!session) {
  connection.textContent = "this page needs a session link (…#session=…): sign in with the link attune printed";
} else {
  connectLive({
    session,
    token,
    getAfterSeq: () => state.lastSeq ?? 0,
    onMessage: (msg) => { if (applyMessage(state, msg)) scheduleRender(); },
    onStatus: (status, reason) => {
      connection.dataset.state = status;
      connection.textContent = reason ? `${status}: ${reason}` : status;
    },
  });
}

// Exposed for tests and debugging: read-only view of the state.
window.attune = { state };
