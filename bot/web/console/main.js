/* cxagent staff console: native ES modules, no framework, no build step. This module boots the
   page: the session, the live socket, the waiting-count badge and the router. All server text
   goes into the DOM as text (shared/dom.js), never as HTML. */

import { debounce } from "../shared/timing.js";
import { api, onSessionEnded } from "./api.js";
import { conversationView } from "./conversation-view.js";
import { dashboardView } from "./dashboard-view.js";
import { initials } from "./format.js";
import { canEditKnowledge, knowledgeView } from "./knowledge-view.js";
import { staffLive } from "./live.js";
import { hideLogin, showLogin, wireLogin } from "./login-view.js";
import { modelsView } from "./models-view.js";
import { queueView } from "./queue-view.js";
import { createRouter } from "./router.js";
import { isAdmin, restore, session, signedIn, signedOut } from "./session.js";
import { staffView } from "./staff-view.js";

const $ = (selector, root = document) => root.querySelector(selector);
const COUNT_EVERY_MS = 60000;

const router = createRouter($("#main"), {
  queue: queueView,
  conversations: conversationView,
  dashboard: dashboardView,
  staff: staffView,
  knowledge: knowledgeView,
  models: modelsView,
});

let reconnecting = false;
const live = staffLive({
  token: () => session.token,
  onConnecting: () => setLive("connecting", reconnecting ? "reconnecting…" : "connecting…"),
  onOpen: () => {
    reconnecting = false;
    setLive("live", "live");
    // Anything may have changed while we were away.
    refreshCount();
    router.view?.onLive?.(null);
  },
  onChange: (frame) => {
    scheduleCount();
    router.view?.onLive?.(frame);
  },
  onTyping: (frame) => router.view?.onTyping?.(frame),
  onLost: ({ opened }) => {
    reconnecting = true;
    setLive("reconnecting", "reconnecting…");
    // It never opened (the service is down or restarting): ask the API whether the token
    // still holds once it answers (api() signs out on 401).
    if (!opened) api("GET", "/api/staff/me").catch(() => {});
  },
  onSessionEnded: () => signOut("Your session has ended. Please sign in again."),
});

function setLive(mode, text) {
  const node = $("#live-status");
  node.dataset.state = mode;
  $(".live-text", node).textContent = text;
  node.title = mode === "live" ? "Updates arrive as they happen" : "Trying to reconnect to live updates";
}

async function refreshCount() {
  if (!session.token) return;
  try {
    const waiting = await api("GET", "/api/staff/queue?status=waiting&limit=500");
    const badge = $("#queue-count");
    badge.textContent = String(waiting.length);
    badge.hidden = waiting.length === 0;
    badge.setAttribute("aria-label", `${waiting.length} waiting`);
  } catch {
    /* the badge is a hint; the queue page shows errors */
  }
}
const scheduleCount = debounce(refreshCount, 300);
let countTimer = null;

function signOut(message) {
  signedOut();
  live.stop();
  router.dispose();
  clearInterval(countTimer);
  showLogin(message);
}

function startApp() {
  hideLogin();
  $("#app").hidden = false;
  const name = session.staff.name || session.staff.username;
  $("#who-name").textContent = name;
  $("#who-avatar").textContent = initials(name);
  $("#nav-staff").hidden = !isAdmin();
  $("#nav-knowledge").hidden = !canEditKnowledge();
  $("#nav-models").hidden = !isAdmin();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/queue";
  live.stop();
  live.connect();
  refreshCount();
  clearInterval(countTimer);
  // Belt and braces: keep the badge right even if the socket is down.
  countTimer = setInterval(refreshCount, COUNT_EVERY_MS);
  router.route();
}

async function boot() {
  restore();
  onSessionEnded(signOut);
  wireLogin(startApp);
  $("#logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/staff/logout");
    } catch {
      /* signing out anyway */
    }
    signOut("You are signed out.");
  });
  window.addEventListener("hashchange", () => {
    if (session.token) router.route();
  });
  if (!session.token) return showLogin();
  try {
    // Confirms the stored token and picks up role changes made since it was issued.
    const me = await api("GET", "/api/staff/me");
    signedIn(session.token, me);
    startApp();
  } catch (err) {
    if (err.status !== 401) showLogin(err.message);
  }
}

boot();
