/* Who is signed in: the staff token and account, kept in sessionStorage (this tab only), and
   what the console caches for the session. The one place they change. */

import { parseJSON } from "../shared/http.js";

const TOKEN_KEY = "cxagent.staff.token";
const STAFF_KEY = "cxagent.staff.member";

export const session = {
  token: null,
  staff: null,
  intents: null, // the known intents, for the correction field's suggestions
  lookups: null, // the read actions an agent may run (GET /api/staff/lookups)
};

/** The session this tab signed in earlier, if any (the server still has to confirm it). */
export function restore() {
  session.token = sessionStorage.getItem(TOKEN_KEY);
  session.staff = parseJSON(sessionStorage.getItem(STAFF_KEY));
}

export function signedIn(token, staff) {
  session.token = token;
  session.staff = staff;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(STAFF_KEY, JSON.stringify(staff));
}

export function signedOut() {
  session.token = null;
  session.staff = null;
  session.intents = null;
  session.lookups = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(STAFF_KEY);
}

export const isAdmin = () => Boolean(session.staff) && session.staff.role === "admin";
