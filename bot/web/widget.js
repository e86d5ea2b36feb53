/*!
 * cxagent customer chat widget: the loader.
 *
 * Embed with one tag:
 *   <script src="https://support.example.com/widget.js" data-title="Brightcart help" async></script>
 *
 * Optional attributes: data-title, data-greeting, data-color, data-position (right|left),
 * data-identity-token (the site's signed identity of its signed-in customer, docs/web.md),
 * data-customer-name and data-customer-email (an anonymous visitor's own), data-open ("true"),
 * data-bot-name. The API it talks to is described in docs/live-api.md.
 *
 * This file stays a classic script, so the one tag works on any site as it is; it reads its own
 * tag and imports the app (widget/app.js, native ES modules) from the same server.
 */
(function () {
  "use strict";

  // Loaded twice (two tags, or a SPA re-injecting it): the first copy wins.
  if (window.cxagentWidget) return;

  // With `async`, document.currentScript is still set while this file runs; the lookup is a
  // fallback for loaders that inject the code some other way.
  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="widget.js"]')).pop() ||
    null;
  const dataset = Object.assign({}, script && script.dataset);
  const src = script && script.src ? new URL(script.src, location.href) : new URL("/widget.js", location.href);

  // The public handle exists at once, so a second copy sees it; calls made before the app has
  // loaded are replayed when it has.
  let app = null;
  const early = [];
  const whenLoaded = (name) => () => (app ? app[name]() : early.push(name));
  window.cxagentWidget = Object.freeze({
    open: whenLoaded("open"),
    close: whenLoaded("close"),
    state: () =>
      app ? app.state() : { conversationId: null, connected: false, outbox: 0, status: null, open: false },
  });

  import(new URL("widget/app.js", src).href)
    .then(({ startWidget }) => {
      app = startWidget({ dataset, origin: src.origin });
      early.splice(0).forEach((name) => app[name]());
    })
    .catch((error) => {
      // The host page's console is the only place left to say it; the page itself works on.
      console.error("cxagent widget: could not load", error);
    });
})();
