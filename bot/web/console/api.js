/* The staff API: every call carries the session's token; failures become ApiError with the
   server's reason. A 401 anywhere but the login means the session is over. */

import { requestJSON } from "../shared/http.js";
import { session } from "./session.js";

const LOGIN = "/api/staff/login";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// FastAPI sends {"detail": "..."} or, for validation errors, {"detail": [{msg, loc}, ...]}.
export function detailText(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
  }
  return `The server answered ${status}.`;
}

let sessionEnded = () => {};

/** What to do when the server says the token is no longer good (main.js signs out). */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

export async function api(method, path, body) {
  let response;
  try {
    response = await requestJSON(method, path, { body, token: session.token });
  } catch {
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  if (response.status === 401 && path !== LOGIN) {
    // The token expired or was revoked: everything else is pointless until a new login.
    sessionEnded("Your session has ended. Please sign in again.");
    throw new ApiError(401, detailText(response.data, 401));
  }
  if (!response.ok) throw new ApiError(response.status, detailText(response.data, response.status));
  return response.data;
}

export const login = (username, password) => api("POST", LOGIN, { username, password });

// A customer's data, for admins: everything held about them as one document, or all of it erased.
const customerPath = (customerId) => `/api/staff/customers/${encodeURIComponent(customerId)}`;
export const exportCustomer = (customerId) => api("GET", `${customerPath(customerId)}/export`);
export const eraseCustomer = (customerId) => api("DELETE", customerPath(customerId));
