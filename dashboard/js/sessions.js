// The signed-in therapist's sessions as a table (console and replay pick one from it).
import { api } from "./api.js";

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

// Fill `table`'s body: each session's title links to `page`; `withReplay` adds a replay link.
export async function listSessions(table, { page, withReplay = false }) {
  const body = table.querySelector("tbody");
  for (const s of await api("/api/sessions")) {
    const at = `#session=${encodeURIComponent(s.id)}`;
    const started = s.started_at_s ? new Date(s.started_at_s * 1000).toLocaleString() : "—";
    const cells = [link(`/${page}${at}`, s.title), s.state, started];
    if (withReplay) cells.push(link(`/replay.html${at}`, "replay"));
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      td.append(c);
      tr.append(td);
    }
    body.append(tr);
  }
  table.hidden = false;
}
