// The OCAIS API v1 from the page: session cookie + CSRF header, and the one error envelope.

import { h, icon } from "./dom.js";

const PREFIX = "/api/v1";
const CSRF_COOKIE = "ocais_csrf";

/** A non-2xx answer, from the envelope {"error": {code, message, hint, request_id, details}}. */
export class ApiError extends Error {
  constructor(status, code, message, hint = null, requestId = null, details = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.requestId = requestId;
    this.details = details;
  }
}

/** The CSRF token of an existing session (the readable cookie set at login), if any. */
export function csrfFromCookie() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/**
 * A client for the API. `onUnauthorized(error)` is called when a request other than the login
 * itself answers 401 (the session expired or ended).
 */
export function createApi({ onUnauthorized } = {}) {
  let csrf = null;

  /** The answer to a request once it is known to be ok; a non-2xx answer is thrown. */
  async function send(method, path, body, { signal, quiet401 = false, accept } = {}) {
    const headers = { Accept: accept || "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    let response;
    try {
      response = await fetch(PREFIX + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(
        0,
        "network_error",
        "the server could not be reached",
        "check the network connection and that the OCAIS service is running",
      );
    }
    if (response.ok) return response;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // not JSON (a proxy's error page): described below from the status
    }
    const e = (data && data.error) || {};
    const error = new ApiError(
      response.status,
      e.code || "http_error",
      e.message || `the server answered with status ${response.status}`,
      e.hint || null,
      e.request_id || response.headers.get("x-request-id"),
      e.details || null,
    );
    if (response.status === 401 && !quiet401 && onUnauthorized) onUnauthorized(error);
    throw error;
  }

  async function request(method, path, body, options) {
    const response = await send(method, path, body, options);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  return {
    setCsrf(token) {
      csrf = token;
    },
    get: (path, options) => request("GET", path, undefined, options),
    post: (path, body, options) => request("POST", path, body, options),
    del: (path, options) => request("DELETE", path, undefined, options),
    /** POST and return the ok Response itself, for a body read as it arrives (a stream). */
    postStream: (path, body, options) =>
      send("POST", path, body, { accept: "text/plain", ...options }),
  };
}

/** An inline error box: what went wrong, what to do (the hint), and the request id. */
export function errorBox(error, what = "") {
  const isApi = error instanceof ApiError;
  const message = isApi ? error.message : "something went wrong in the page";
  const details =
    isApi && error.details && Array.isArray(error.details.errors)
      ? error.details.errors.map((e) => `${e.loc.join(".")}: ${e.msg}`).join("; ")
      : null;
  return h(
    "div",
    { class: "error", role: "alert" },
    icon("alert", "icon error__icon"),
    h(
      "div",
      { class: "error__body" },
      h("p", { class: "error__message" }, what ? `${what}: ` : "", message),
      isApi && error.hint ? h("p", { class: "error__hint" }, "What to do: ", error.hint) : null,
      details ? h("p", { class: "error__hint" }, details) : null,
      isApi && error.requestId
        ? h("p", { class: "error__rid" }, `Request id ${error.requestId}`)
        : null,
    ),
  );
}
