// The client's calm-meter: one large, kind gauge of their own calm index and the breathing
// pacer. It receives only what the service sends a client link (its own calm, quality and
// link, the pacer, cues addressed to the client, client_view); numbers only when the
// therapist turns them on.
import { formatValue } from "./format.js";
import { createGauge } from "./gauge.js";
import { followSession } from "./live.js";
import { createSessionClock, pacerAt, pacerPhase } from "./pacer.js";
import { byRole, createState, parseFragment, signalLost } from "./protocol.js";

const $ = (id) => document.getElementById(id);
const state = createState();
const clock = createSessionClock();
const { session, token } = parseFragment(location.hash);
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");
const gauge = createGauge($("meter"), { label: "your calm", showText: false });
const shown = { phase: null, breath: null, level: null, sessionS: null }; // for tests
let connection = "connecting";
let frameRequested = false;

// Kind words for each band: no judgement, no numbers (docs/hrv.md: calm bands).
const WORDS = {
  calm: "Calm and steady",
  neutral: "Settling in",
  aroused: "Take your time",
};

function meterWord(calm) {
  if (!calm) return "Getting ready…";
  if (calm.state === "learning") return "Getting to know your rhythm…";
  if (calm.state === "warming_up") return "Settling in…";
  return WORDS[calm.band] ?? "Settling in";
}

function render() {
  frameRequested = false;
  const me = byRole(state, "client");
  const calm = me?.calm ?? null;
  const offline = connection === "offline" || connection === "refused";
  const lost = offline || (me !== undefined && signalLost(me));
  const lostBox = $("signal-lost");
  lostBox.hidden = !lost;
  lostBox.textContent = connection === "refused"
    ? "This link no longer works. Please ask your therapist for a new one."
    : offline ? "Connection lost. Reconnecting…"
      : "Signal lost. Please check the chest strap is snug and nearby.";
  gauge.set(calm?.value ?? null, meterWord(calm));
  $("meter-word").textContent = offline ? "" : connection === "connecting" ? "Connecting…" : meterWord(calm);
  const numbers = $("numbers");
  numbers.hidden = !state.clientView.showNumbers;
  numbers.textContent = state.clientView.showNumbers ? `calm ${formatValue(calm?.value)} of 100` : "";
  const cue = state.cues.filter((c) => c.audience === "client").at(-1);
  $("client-cue").textContent = cue ? cue.text : "";
}

function scheduleRender() {
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

// The pacer runs every frame (smooth motion); it touches only a transform and, at phase
// changes, one word. With reduced motion the orb is hidden and the words alone pace.
function animatePacer() {
  const now = clock.at(performance.now() / 1000);
  const pacer = now === null ? null : pacerAt(state.pacerHistory, now);
  const phase = pacer ? pacerPhase(pacer, now) : null;
  const box = $("pacer");
  box.hidden = phase === null;
  if (phase) {
    if (!reducedMotion.matches) $("orb").style.transform = `scale(${(0.55 + 0.45 * phase.level).toFixed(4)})`;
    if (phase.phase !== shown.phase) $("breath-word").textContent = phase.phase === "in" ? "breathe in" : "breathe out";
    box.dataset.phase = phase.phase;
  }
  Object.assign(shown, { phase: phase?.phase ?? null, breath: phase?.breath ?? null,
    level: phase?.level ?? null, sessionS: now, pacer });
  requestAnimationFrame(animatePacer);
}

if (!session || !token) {
  $("meter-word").textContent = "Please open the link your therapist gave you.";
} else {
  followSession({
    session,
    token,
    state,
    clock,
    onChange: scheduleRender,
    onStatus: (status) => { connection = status; scheduleRender(); },
  });
  requestAnimationFrame(animatePacer);
}

window.addEventListener("hashchange", () => location.reload());
window.attune = { state, clock, shown };
