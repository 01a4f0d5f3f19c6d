// Password sign-in (POST /api/auth/login sets the login cookie), then back to the page that
// sent us here (#next=, same-origin paths only).
import { api } from "./api.js";

const params = new URLSearchParams(location.hash.replace(/^#/, ""));
const next = params.get("next") ?? "";
const target = next.startsWith("/") && !next.startsWith("//") ? next : "/therapist.html";

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  try {
    await api("/api/auth/login", { method: "POST", body: {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    } });
    location.assign(target);
  } catch (e) {
    error.textContent = e.status === 401 ? "Wrong username or password." : `Sign-in failed: ${e.message}`;
  }
});
document.getElementById("username").focus();
