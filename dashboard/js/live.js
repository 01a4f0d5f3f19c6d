// Live websocket client: authenticates with its first message, resumes after the last seq it
// applied, and reconnects with capped, jittered backoff when the server goes away.

export function backoffDelayMs(attempt, random = Math.random) {
  return random() * Math.min(10000, 250 * 2 ** attempt);
}

/**
 * Connects to /live/{session} and calls onMessage for every parsed message.
 * getAfterSeq() tells where to resume; onStatus receives "connecting" | "live" | "offline" | "refused".
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
      socket.send(JSON.stringify({ type: "auth", token, after_seq: getAfterSeq() }));
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "error" && msg.code === "unauthorized") {
        stopped = true;
        onStatus("refused", msg.reason);
        return;
      }
      if (attempt !== 0 || msg.type === "session") onStatus("live");
      attempt = 0;
      onMessage(msg);
    };
    socket.onclose = () => {
      if (stopped) return;
      onStatus("offline");
      setTimeout(open, backoffDelayMs(attempt++));
    };
  }

  open();
  return { close() { stopped = true; socket?.close(); } };
}
