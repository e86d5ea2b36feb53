/* The customer's HTTP calls (docs/live-api.md). Each resolves to {ok, status, data} and rejects
   only when the network is down. The customer token is the only credential: no cookies. */

import { requestJSON } from "../shared/http.js";

export function customerApi(base) {
  const call = (method, path, { body, token } = {}) =>
    requestJSON(method, base + path, { body, token, credentials: "omit" });
  const conversation = (id) => `/api/conversations/${encodeURIComponent(id)}`;
  return {
    /** With the site's identity token the token alone says who the customer is. */
    start: (identityToken, customer) =>
      call("POST", "/api/conversations", {
        body: identityToken ? { identity_token: identityToken, channel: "web" } : { customer, channel: "web" },
      }),
    transcript: (id, token) => call("GET", `${conversation(id)}/messages`, { token }),
    end: (id, token) => call("POST", `${conversation(id)}/end`, { token }),
    survey: (id, token, answers) => call("POST", `${conversation(id)}/survey`, { body: answers, token }),
  };
}
