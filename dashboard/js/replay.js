// Team replay: a session list, then one timeline (play, pause, speed, scrub) driving the
// /replay socket (docs/protocol.md), with both tachograms, metrics, synchrony, pacer state,
// cues, markers and notes, gaps and rejected beats; re-analysis and export links.
import { api, requireLogin } from "./api.js";
import { cardField, participantCards, renderCard } from "./cards.js";
import { formatClock, formatLag, formatValue } from "./format.js";
import { pacerAt } from "./pacer.js";
import { HORIZON_S, applyMessage, createState, parseFragment, resetStream } from "./protocol.js";
import { listSessions } from "./sessions.js";

const $ = (id) => document.getElementById(id);
const state = createState();
const { session, token } = parseFragment(location.hash);
const player = { state: "paused", tS: 0, durationS: 0, speed: 8, engine: null, scrubbing: false };
let socket = null;
let frameRequested = false;

const card = participantCards($("participants"), $("participant-card"));

function position() {
  return Math.max(player.tS, state.latestS ?? 0);
}

function render() {
  frameRequested = false;
  const tS = position();
  const fromS = Math.max(0, tS - HORIZON_S);
  const toS = Math.max(tS, fromS + 60);
  $("replay-clock").textContent = formatClock(tS);
  $("replay-clock").dataset.tS = String(tS);
  $("duration").textContent = formatClock(player.durationS);
  const scrub = $("scrub");
  scrub.max = String(Math.ceil(player.durationS));
  if (!player.scrubbing) scrub.value = String(Math.floor(tS));
  scrub.setAttribute("aria-valuetext", `${formatClock(tS)} of ${formatClock(player.durationS)}`);
  $("play").textContent = player.state === "playing" ? "Pause" : "Play";
  $("connection").textContent = player.state;
  for (const p of state.participants.values()) {
    const c = card(p);
    renderCard(c, p, fromS, toS);
    cardField(c.el, "artefacts").textContent = String(p.artefacts);
  }
  const s = state.synchrony;
  const put = (name, text) => { $("synchrony").querySelector(`[data-sync="${name}"]`).textContent = text; };
  put("index", formatValue(s?.index, 2));
  put("verdict", !s ? "—" : s.status !== "ok" ? "no verdict" : s.aboveChance ? "above chance" : "not above chance");
  put("lag", s ? formatLag(s.lagS, s.leader) : "—");
  put("status", s ? s.status.replace("_", " ") : "");
  const pacer = pacerAt(state.pacerHistory, tS);
  $("pacer-now").textContent = pacer?.breathsPerMin != null
    ? `pacer: ${formatValue(pacer.breathsPerMin, 1)} breaths/min, in:out 1:${formatValue(pacer.exhaleRatio, 1)}` : "pacer: off";
  if (player.engine) {
    const { window_s: w, min_window_s: m, min_beats: b } = player.engine;
    $("engine").textContent = `in use: window ${w} s (trusted from ${m} s), at least ${b} beats`;
  }
}

function scheduleRender() {
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

function send(command) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
}

function onMessage(msg) {
  if (msg.type === "replay_state") {
    Object.assign(player, { state: msg.state, durationS: msg.duration_s, speed: msg.speed, engine: msg.engine });
    if (msg.reset) {
      resetStream(state);
      player.tS = msg.t_s;
    }
    scheduleRender();
    return;
  }
  if (msg.type === "error") {
    $("replay-error").textContent = msg.reason;
    return;
  }
  if (msg.type === "marker") addEvent(msg.t_s, `marker: ${msg.text}`);
  if (applyMessage(state, msg)) scheduleRender();
}

const eventTimes = new Set();
function addEvent(tS, text) {
  const key = `${tS}|${text}`;
  if (eventTimes.has(key)) return;
  eventTimes.add(key);
  const li = document.createElement("li");
  const jump = document.createElement("button");
  jump.type = "button";
  jump.textContent = formatClock(tS);
  jump.setAttribute("aria-label", `go to ${formatClock(tS)}`);
  jump.addEventListener("click", () => send({ type: "seek", t_s: tS }));
  li.dataset.tS = String(tS);
  li.append(jump, document.createTextNode(` ${text}`));
  const list = $("events");
  const after = [...list.children].find((c) => Number(c.dataset.tS) > tS);
  list.insertBefore(li, after ?? null);
}

async function loadEvents() {
  const opts = { token };
  const [row, events, participants] = await Promise.all([
    api(`/api/sessions/${session}`, opts), api(`/api/sessions/${session}/events`, opts),
    api(`/api/sessions/${session}/participants`, opts)]);
  $("title").textContent = `Replay · ${row.title}`;
  $("notes").textContent = row.notes || "no notes";
  for (const m of events.markers) addEvent(m.t_s, `marker: ${m.text}`);
  for (const c of events.cues_shown) addEvent(c.t_s, `cue for the ${c.audience}: ${c.text}`);
  for (const p of events.pacer_changes) {
    addEvent(p.t_s, p.breaths_per_min == null ? "pacer stopped" : `pacer ${p.breaths_per_min}/min, in:out 1:${p.inhale_exhale_ratio ?? "?"}`);
  }
  const names = ["beats.csv", "metrics.csv", "session.json", "session.edf", "report.html",
    ...participants.map((p) => `rr-${p.id}.txt`)];
  for (const name of names) $("exports").append(exportLink(name, participants));
}

function exportLink(name, participants) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = `/api/sessions/${session}/exports/${name}`;
  const who = participants.find((p) => name === `rr-${p.id}.txt`);
  a.textContent = who ? `RR intervals, ${who.display_name} (Kubios)` : name;
  a.download = name;
  if (token) {
    // A reviewer link authenticates with a bearer header, which a plain link cannot send.
    a.addEventListener("click", async (event) => {
      event.preventDefault();
      const response = await fetch(a.href, { headers: { Authorization: `Bearer ${token}` } });
      if (!response.ok) { $("replay-error").textContent = `export failed: ${response.status}`; return; }
      const url = URL.createObjectURL(await response.blob());
      const tmp = Object.assign(document.createElement("a"), { href: url, download: name });
      tmp.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  }
  li.append(a);
  return li;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/replay/${encodeURIComponent(session)}`);
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: token ?? null }));
  socket.onmessage = (event) => onMessage(JSON.parse(event.data));
  socket.onclose = () => { player.state = "disconnected"; scheduleRender(); };
}

function setupControls() {
  $("play").addEventListener("click", () => {
    if (player.state === "playing") send({ type: "pause" });
    else send({ type: "play", speed: Number($("speed").value) });
  });
  $("speed").addEventListener("change", () => {
    if (player.state === "playing") send({ type: "play", speed: Number($("speed").value) });
  });
  const scrub = $("scrub");
  scrub.addEventListener("input", () => { player.scrubbing = true; $("replay-clock").textContent = formatClock(Number(scrub.value)); });
  scrub.addEventListener("change", () => { player.scrubbing = false; send({ type: "seek", t_s: Number(scrub.value) }); });
  $("analysis").addEventListener("submit", (event) => {
    event.preventDefault();
    $("replay-error").textContent = "";
    send({ type: "analyse", engine: { window_s: Number($("window-s").value), min_beats: Number($("min-beats").value) } });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === " " && !event.target.closest?.("input, select, textarea, button")) {
      event.preventDefault();
      $("play").click();
    }
  });
}

async function main() {
  if (!token && !(await requireLogin())) return;
  window.addEventListener("hashchange", () => location.reload());
  if (!session) {
    await listSessions($("sessions"), { page: "replay.html" });
    return;
  }
  $("player").hidden = false;
  setupControls();
  connect();
  await loadEvents();
}

window.attune = { state, player };
main().catch((error) => { $("replay-error").textContent = String(error.message ?? error); });
