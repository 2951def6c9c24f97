// Calls the cyberWatch API with the key kept in localStorage; errors carry the ProblemDetails the API sent.
const KEY = "cyberwatch.apiKey";

export const apiKey = {
  get: () => localStorage.getItem(KEY) || "",
  set: (key) => (key ? localStorage.setItem(KEY, key) : localStorage.removeItem(KEY)),
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem?.title;
    this.detail = problem?.detail || this.message;
    this.errors = problem?.errors;
  }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  const key = apiKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { title: "API unreachable", detail: String(e.message || e) });
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem ?? { title: response.statusText });
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

/** Downloads an export through fetch, so the key travels in the header and not in the URL. */
export async function download(path, filename) {
  const response = await api(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
