/* The one way both pages call the JSON API. */

/** Parse JSON, or null when the text is empty or not JSON. */
export function parseJSON(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * requestJSON("POST", url, {body, token, credentials}) → {ok, status, data}; data is the parsed
 * body or null. Network failures reject (fetch's TypeError): callers decide what offline means.
 */
export async function requestJSON(method, url, { body, token, credentials } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials,
  });
  const data = response.status === 204 ? null : parseJSON(await response.text());
  return { ok: response.ok, status: response.status, data };
}
