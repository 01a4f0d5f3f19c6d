// Therapist console: per participant a live tachogram, RMSSD/lnRMSSD trend, calm gauge and
// signal quality; synchrony, the cue feed, pacer controls, session start/stop and a one-key
// marker. Messages update the state as they come; the page renders at most once per frame.
import { api, idempotencyKey, requireLogin } from "./api.js";
import { cardField as field, participantCards, renderCard } from "./cards.js";
import { trendChart } from "./charts.js";
import { formatClock, formatLag, formatReason, formatValue } from "./format.js";
import { followSession } from "./live.js";
import { createSessionClock, pacerAt, pacerPhase } from "./pacer.js";
import { HORIZON_S, createState, parseFragment, signalLost } from "./protocol.js";
import { listSessions } from "./sessions.js";

const $ = (id) => document.getElementById(id);
const state = createState();
const clock = createSessionClock();
const { session, token } = parseFragment(location.hash);
const perf = { renderMs: new Float64Array(8192), renders: 0 };
let syncChart = null;
let cuesShown = 0;
let frameRequested = false;
let sessionRow = null;
let shownNumbers = false;

const card = participantCards($("participants"), $("participant-card"), { gauge: true });

function baselineText(calm) {
  if (!calm) return "baseline: waiting for beats";
  if (calm.state === "learning") return `baseline: learning (${Math.round(100 * calm.baselineProgress)} %)`;
  if (calm.state === "warming_up") return "baseline: known, warming up";
  if (calm.state === "frozen") return "baseline: set · calm held (signal not trustworthy)";
  return `baseline: set · ${calm.band ?? ""} · confidence ${formatValue(calm.confidence, 2)}`;
}

function renderParticipant(p, fromS, toS) {
  const c = card(p);
  const { el } = c;
  renderCard(c, p, fromS, toS);
  const rmssd = el.querySelector('[data-metric="rmssd"]');
  rmssd.classList.toggle("provisional", p.provisional);
  rmssd.title = p.provisional ? "warming up: under 30 s of beats" : "";
  const calmValue = p.calm?.value ?? null;
  c.gauge.set(calmValue, p.calm ? `${formatValue(calmValue)} (${p.calm.state})` : "no value yet");
  field(el, "baseline").textContent = baselineText(p.calm);
  const lost = signalLost(p);
  const link = field(el, "link");
  link.textContent = lost ? `signal lost (${p.gapOpen ?? p.linkReason ?? p.link})` : p.link ?? "waiting for strap";
  link.classList.toggle("lost", lost);
  field(el, "contact").textContent = p.contact === null ? "contact n/a" : p.contact ? "contact ok" : "no skin contact";
  field(el, "artefacts").textContent = p.artefactPct === null ? "—" : `${formatValue(p.artefactPct, 1)} %`;
  field(el, "battery").textContent = p.batteryPct === null ? "battery —" : `battery ${p.batteryPct} %`;
}

function renderSynchrony(fromS, toS) {
  const s = state.synchrony;
  const box = $("synchrony");
  const put = (name, text) => { box.querySelector(`[data-sync="${name}"]`).textContent = text; };
  if (!s) return;
  put("index", formatValue(s.index, 2));
  const verdict = box.querySelector('[data-sync="verdict"]');
  verdict.textContent = s.status !== "ok" ? "no verdict" : s.aboveChance ? "above chance" : "not above chance";
  verdict.dataset.above = String(s.status === "ok" && s.aboveChance);
  put("lag", formatLag(s.lagS, s.leader));
  put("status", `${s.status.replace("_", " ")} · p = ${formatValue(s.pValue, 3)}${s.pacerRemoved ? " · pacer removed" : ""}`);
  syncChart ??= trendChart($("sync-chart"), [{ label: "synchrony index", scale: "z", colorVar: "--accent" }]);
  syncChart.update([state.synchronySeries], fromS, toS);
}

function renderCues() {
  const list = $("cues");
  // Only new cues are added, so the live region announces each once.
  const fresh = state.cues.filter((c) => c.seq > cuesShown);
  for (const cue of fresh) {
    const li = document.createElement("li");
    li.dataset.kind = cue.kind;
    li.dataset.audience = cue.audience;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = formatClock(cue.tS);
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = `for the ${cue.audience} · because ${formatReason(cue.reason)}`;
    li.append(when, document.createTextNode(cue.text), why);
    list.prepend(li);
    cuesShown = Math.max(cuesShown, cue.seq);
  }
  while (list.children.length > 100) list.lastElementChild.remove();
}

function resonanceText(r) {
  if (!r) return "";
  if (r.state === "running") {
    return `resonance assessment: step ${(r.step ?? 0) + 1} at ${formatValue(r.breaths_per_min, 1)}/min, ${r.steps.length} measured`;
  }
  if (r.state === "finished") {
    return r.resonance_bpm == null ? `resonance assessment finished without a rate (${r.reason ?? "too few usable steps"})`
      : `resonance assessment finished: ${formatValue(r.resonance_bpm, 1)} breaths/min`;
  }
  return "resonance assessment cancelled";
}

function renderPacer() {
  const now = clock.at(performance.now() / 1000);
  const pacer = now === null ? null : pacerAt(state.pacerHistory, now);
  const phase = pacer ? pacerPhase(pacer, now) : null;
  $("pacer-now").textContent = pacer && pacer.breathsPerMin != null
    ? `${formatValue(pacer.breathsPerMin, 1)} breaths/min, in:out 1:${formatValue(pacer.exhaleRatio, 1)} (${pacer.source})${phase ? ` · breathe ${phase.phase}` : ""}`
    : "off";
  // Follow the server's setting when it changes, not while the therapist is toggling it.
  if (state.clientView.showNumbers !== shownNumbers) {
    shownNumbers = state.clientView.showNumbers;
    $("show-numbers").checked = shownNumbers;
  }
  $("resonance-now").textContent = resonanceText(state.resonance);
}

function render() {
  frameRequested = false;
  const started = performance.now();
  if (state.title) $("title").textContent = state.title;
  // The last 5 minutes, or the first 5 from zero while the session is younger.
  const toS = Math.max(state.latestS ?? 0, 60);
  const fromS = Math.max(0, toS - HORIZON_S);
  const ordered = [...state.participants.values()].sort((a, b) => b.role.localeCompare(a.role));
  for (const p of ordered) renderParticipant(p, fromS, toS);
  renderSynchrony(fromS, toS);
  renderCues();
  renderPacer();
  perf.renderMs[perf.renders % perf.renderMs.length] = performance.now() - started;
  perf.renders += 1;
}

function scheduleRender() {
  // Render at most once per animation frame, however fast messages arrive.
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

function showError(where, error) {
  $(where).textContent = error ? `${error.message ?? error}` : "";
}

async function sessionAction(action) {
  try {
    sessionRow = await api(`/api/sessions/${session}/${action}`, { method: "POST" });
    showSessionState();
    showError("console-error", null);
  } catch (error) { showError("console-error", error); }
}

function showSessionState() {
  if (!sessionRow) return;
  $("session-state").textContent = sessionRow.state;
  $("start").hidden = sessionRow.state !== "created";
  $("stop").hidden = sessionRow.state !== "running";
}

// --- one-key marker: M captures the moment, then an optional note -------------------------
let markerAtS = null;
// One Idempotency-Key per marker text: saving again after an error (the first try may have
// been recorded all the same) must not record the marker twice; an edited text is a new one.
let markerKey = null;
let markerKeyText = null;

function openMarker() {
  markerAtS = clock.at(performance.now() / 1000);
  markerKeyText = null;
  $("marker-time").textContent = formatClock(markerAtS);
  $("marker-form").hidden = false;
  $("marker-note").value = "";
  $("marker-note").focus();
}

function closeMarker() {
  $("marker-form").hidden = true;
  $("mark").focus();
}

async function saveMarker(event) {
  event.preventDefault();
  const text = $("marker-note").value.trim() || "marker";
  const body = markerAtS === null ? { text } : { text, t_s: Math.max(0, markerAtS) };
  if (text !== markerKeyText) [markerKey, markerKeyText] = [idempotencyKey(), text];
  try {
    await api(`/api/sessions/${session}/markers`, { method: "POST", body, idempotencyKey: markerKey });
    showError("console-error", null);
    closeMarker();
  } catch (error) { showError("console-error", error); }
}

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest?.("input, select, textarea");
  if (event.key === "Escape" && !$("marker-form").hidden) { closeMarker(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (session && (event.key === "m" || event.key === "M")) {
    event.preventDefault();
    openMarker();
  }
});

// --- pacer, resonance and client-view controls (PUT/DELETE /api/sessions/{id}/pacer ...) ---
function setupControls() {
  for (let r = 4; r <= 7; r += 0.5) $("pacer-rate").append(new Option(`${r} /min`, String(r), r === 6, r === 6));
  for (const x of [1, 1.5, 2, 2.5, 3]) $("pacer-ratio").append(new Option(String(x), String(x), x === 1.5, x === 1.5));
  const call = async (path, method, body) => {
    try {
      await api(`/api/sessions/${session}/${path}`, { method, body });
      showError("pacer-error", null);
    } catch (error) { showError("pacer-error", error); }
  };
  $("pacer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    call("pacer", "PUT", { breaths_per_min: Number($("pacer-rate").value), exhale_ratio: Number($("pacer-ratio").value) });
  });
  $("pacer-stop").addEventListener("click", () => call("pacer", "DELETE"));
  $("resonance-start").addEventListener("click", () => call("resonance", "POST", {}));
  $("resonance-stop").addEventListener("click", () => call("resonance", "DELETE"));
  $("show-numbers").addEventListener("change", (event) => call("client-view", "PUT", { show_numbers: event.target.checked }));
}

async function main() {
  const me = token ? null : await requireLogin();
  if (!token && !me) return;
  window.addEventListener("hashchange", () => location.reload());
  if (!session) {
    $("connection").textContent = "choose a session";
    for (const id of ["mark", "synchrony"]) $(id).hidden = true;
    await listSessions($("sessions"), { page: "therapist.html", withReplay: true });
    return;
  }
  $("replay-link").href = `/replay.html#session=${encodeURIComponent(session)}`;
  setupControls();
  $("mark").addEventListener("click", openMarker);
  $("marker-form").addEventListener("submit", saveMarker);
  $("marker-cancel").addEventListener("click", closeMarker);
  $("start").addEventListener("click", () => sessionAction("start"));
  $("stop").addEventListener("click", () => sessionAction("stop"));
  try {
    sessionRow = await api(`/api/sessions/${session}`);
    showSessionState();
  } catch (error) { showError("console-error", error); }
  setInterval(() => {
    $("session-clock").textContent = formatClock(clock.at(performance.now() / 1000));
    renderPacer();
  }, 250);
  followSession({
    session,
    token,
    state,
    clock,
    onChange: scheduleRender,
    onStatus: (status, reason) => {
      $("connection").dataset.state = status;
      $("connection").textContent = reason ? `${status}: ${reason}` : status;
    },
  });
}

// Exposed for tests, the benchmark and debugging: read-only views of the state.
window.attune = { state, clock, perf };
main().catch((error) => showError("console-error", error));
