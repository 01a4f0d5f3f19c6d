// Live websocket client: authenticates with its first message, resumes after the last seq it
// applied, and reconnects with capped, jittered backoff when the server goes away.
// A therapist's page sends no token (its login cookie goes with the handshake); a client
// link's page sends the token from its URL fragment.

import { applyMessage } from "./protocol.js";

// Refusals that a reconnect cannot fix (docs/protocol.md): error codes and close codes.
const REFUSED_CODES = new Set(["unauthorized", "forbidden", "not_found"]);
const FINAL_CLOSE = new Map([[4403, "link revoked"], [4404, "session deleted"]]);

export function backoffDelayMs(attempt, random = Math.random) {
  return random() * Math.min(10000, 250 * 2 ** attempt);
}

/**
 * Connects to /live/{session} and calls onMessage for every parsed message.
 * token: a link token, or null when signed in. getAfterSeq() tells where to resume;
 * onStatus receives "connecting" | "live" | "offline" | "refused".
 */
export function connectLive({ session, token, getAfterSeq, onMessage, onStatus }) {
  let attempt = 0;
  let stopped = false;
  let socket = null;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/live/${encodeURIComponent(session)}`;

  function open() {
    onStatus("connecting");
    socket = new WebSocket(url);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "auth", token: token ?? null, after_seq: getAfterSeq() }));
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "error" && REFUSED_CODES.has(msg.code)) {
        stopped = true;
        onStatus("refused", msg.reason);
        return;
      }
      if (attempt !== 0 || msg.type === "session") onStatus("live");
      attempt = 0;
      onMessage(msg);
    };
    socket.onclose = (event) => {
      if (stopped) return;
      if (FINAL_CLOSE.has(event.code)) {
        stopped = true;
        onStatus("refused", FINAL_CLOSE.get(event.code));
        return;
      }
      onStatus("offline");
      setTimeout(open, backoffDelayMs(attempt++));
    };
  }

  open();
  return { close() { stopped = true; socket?.close(); } };
}

/**
 * Follows a session's live stream into `state` (protocol.js), resuming after the last seq it
 * applied; `clock` (pacer.js) learns session time from each message, and onChange runs when
 * a message changed the state.
 */
export function followSession({ session, token, state, clock, onChange, onStatus }) {
  return connectLive({
    session,
    token,
    getAfterSeq: () => state.lastSeq ?? 0,
    onMessage: (msg) => {
      if (typeof msg.t_s === "number") clock.observe(msg.t_s, performance.now() / 1000);
      if (applyMessage(state, msg)) onChange();
    },
    onStatus,
  });
}
