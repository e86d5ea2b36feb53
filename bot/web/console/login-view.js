/* The sign-in form (static in index.html): shown whenever there is no valid staff token. */

import { login } from "./api.js";
import { signedIn } from "./session.js";

const $ = (selector) => document.querySelector(selector);

export function showLogin(message) {
  $("#app").hidden = true;
  $("#login-view").hidden = false;
  const notice = $("#login-notice");
  notice.textContent = message || "";
  notice.hidden = !message;
  $("#login-error").hidden = true;
  $("#login-password").value = "";
  $("#login-username").focus();
}

export function hideLogin() {
  $("#login-view").hidden = true;
}

/** Handle the form; onSignedIn() runs once the session is stored. */
export function wireLogin(onSignedIn) {
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#login-error");
    const submit = $('[data-testid="login-submit"]');
    const username = $("#login-username").value.trim();
    const password = $("#login-password").value;
    error.hidden = true;
    if (!username || !password) {
      error.textContent = "Enter your username and password.";
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const result = await login(username, password);
      signedIn(result.token, result.staff);
      onSignedIn();
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      error.hidden = false;
      $("#login-password").select();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
}
