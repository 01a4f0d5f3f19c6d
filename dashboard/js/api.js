// REST calls from the views (docs/api.md): the login cookie goes with same-origin requests;
// a link's token (reviewer replay) goes as a bearer header.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** fetch JSON from the API; throws ApiError with the server's detail. `idempotencyKey`
 * (see idempotencyKey()) makes a retried POST safe where the API takes one. */
export async function api(path, { method = "GET", body, token, idempotencyKey } = {}) {
  const headers = {};
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? data);
    } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

/** A fresh random Idempotency-Key: one per thing created, reused by every retry of it. */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs https
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Sends the browser to the sign-in page, coming back here afterwards. */
export function goToLogin() {
  const next = location.pathname + location.hash;
  location.assign(`/login.html#next=${encodeURIComponent(next)}`);
}

/** The signed-in therapist, or a redirect to the sign-in page (returns null then). */
export async function requireLogin() {
  try {
    return await api("/api/auth/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      goToLogin();
      return null;
    }
    throw error;
  }
}
