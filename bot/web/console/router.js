/* Hash routes (#/queue, #/conversations/{id}, #/dashboard, #/staff, #/knowledge,
   #/knowledge/{id}, #/knowledge/new/{question}): one view mounted at a
   time in <main>; the previous one is disposed (its timers and pending loads dropped). */

/** "#/conversations/abc" → {name: "conversations", id: "abc"}; anything unknown is the queue. */
export function parseRoute(hash) {
  const parts = hash.replace(/^#/, "").split("/").filter(Boolean);
  const name = parts[0];
  if (name === "conversations" && parts[1]) return { name, id: decodeURIComponent(parts[1]) };
  if (name === "dashboard" || name === "staff" || name === "models") return { name };
  if (name === "knowledge") {
    if (parts[1] === "new") return { name, id: "new", question: parts[2] ? decodeURIComponent(parts[2]) : "" };
    return parts[1] ? { name, id: decodeURIComponent(parts[1]) } : { name };
  }
  return { name: "queue" };
}

/** The main navigation's entry for a route: a conversation is reached from the queue. */
export function navEntry(route) {
  return route.name === "conversations" ? "queue" : route.name;
}

/**
 * createRouter(main, views): views maps a route name to view(main, id, route) → {onLive?(frame),
 * onTyping?(frame), dispose?()}.
 */
export function createRouter(main, views) {
  let view = null;

  function dispose() {
    if (view && view.dispose) view.dispose();
    view = null;
  }

  function route() {
    dispose();
    const current = parseRoute(location.hash);
    main.replaceChildren();
    view = views[current.name](main, current.id, current);
    for (const link of document.querySelectorAll(".nav a")) {
      if (link.dataset.route === navEntry(current)) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  return {
    route,
    dispose,
    /** The mounted view, or null. */
    get view() {
      return view;
    },
  };
}
