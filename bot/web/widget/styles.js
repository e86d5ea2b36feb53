/* The widget's styles, inside its Shadow DOM so the host page's CSS cannot break it. The
   accent colours come in as custom properties (theme.js accentProperties). */

export const CSS_TEXT = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.cx-root {
  --cx-ink: #1c2030; --cx-ink-2: #555c6e; --cx-line: #e4e6ee; --cx-bg: #f6f7fb;
  --cx-danger: #b42318; --cx-radius: 18px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--cx-ink); -webkit-font-smoothing: antialiased;
  position: fixed; bottom: 20px; z-index: 2147483000;
}
.cx-root.cx-right { right: 20px; }
.cx-root.cx-left { left: 20px; }
button, textarea, input { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--cx-focus); outline-offset: 2px; }
[tabindex="-1"]:focus-visible { outline: none; } /* focused by script, not a control */
.cx-sr { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

/* Launcher */
.cx-launcher {
  position: relative; width: 60px; height: 60px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center; margin-left: auto;
  background: var(--cx-accent); color: var(--cx-on-accent);
  box-shadow: 0 6px 20px rgba(17, 24, 39, .28), 0 2px 6px rgba(17, 24, 39, .18);
  transition: transform .18s ease, box-shadow .18s ease;
}
.cx-left .cx-launcher { margin-left: 0; }
.cx-launcher:hover { transform: scale(1.06); box-shadow: 0 10px 26px rgba(17, 24, 39, .32); }
.cx-launcher svg { fill: currentColor; transition: transform .2s ease, opacity .2s ease; }
.cx-launcher .cx-i-down { position: absolute; opacity: 0; transform: rotate(-90deg); }
.cx-open .cx-launcher .cx-i-chat { opacity: 0; transform: rotate(90deg) scale(.6); }
.cx-open .cx-launcher .cx-i-down { opacity: 1; transform: none; }
.cx-badge {
  position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: #d92d20; color: #fff; font-size: 12px; font-weight: 700;
  line-height: 22px; text-align: center; border: 2px solid #fff;
}

/* Panel */
.cx-panel {
  position: absolute; bottom: 76px; width: 384px;
  height: min(660px, calc(100vh - 110px)); max-height: calc(100vh - 110px);
  display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 20px;
  box-shadow: 0 18px 50px rgba(17, 24, 39, .24), 0 4px 14px rgba(17, 24, 39, .12);
  transform-origin: bottom right; animation: cx-pop .22s cubic-bezier(.2, .9, .3, 1.2);
}
.cx-right .cx-panel { right: 0; }
.cx-left .cx-panel { left: 0; transform-origin: bottom left; }
@keyframes cx-pop { from { opacity: 0; transform: translateY(12px) scale(.96); } }

.cx-header {
  flex: none; display: flex; align-items: center; gap: 12px; padding: 16px 14px 16px 18px;
  color: var(--cx-on-accent);
  background: var(--cx-accent);
  background: linear-gradient(135deg, var(--cx-accent), var(--cx-accent-2));
}
.cx-offline .cx-avatar-lg::after { background: #98a2b3; }
.cx-header :focus-visible { outline-color: var(--cx-on-accent); }
.cx-avatar-lg {
  flex: none; width: 40px; height: 40px; border-radius: 50%; display: grid; place-items: center;
  font-weight: 700; font-size: 17px; background: rgba(255, 255, 255, .22);
  box-shadow: inset 0 0 0 2px rgba(255, 255, 255, .35); position: relative;
}
.cx-avatar-lg::after {
  content: ""; position: absolute; right: -1px; bottom: -1px; width: 11px; height: 11px;
  border-radius: 50%; background: #12b76a; border: 2px solid var(--cx-accent);
}
.cx-headtext { flex: 1; min-width: 0; }
.cx-title { margin: 0; font-size: 16.5px; font-weight: 700; line-height: 1.25;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cx-subtitle { margin: 2px 0 0; font-size: 13px; line-height: 1.3; opacity: .92;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.cx-hbtn {
  flex: none; border: 0; background: rgba(255, 255, 255, .16); color: inherit;
  border-radius: 999px; height: 30px; padding: 0 11px; font-size: 12.5px; font-weight: 600;
  white-space: nowrap;
  transition: background .15s ease;
}
.cx-hbtn:hover { background: rgba(255, 255, 255, .28); }
.cx-hbtn.cx-icon { width: 32px; padding: 0; display: grid; place-items: center; }
.cx-hbtn svg { fill: currentColor; }

.cx-conn {
  flex: none; display: flex; align-items: center; justify-content: center; gap: 8px;
  padding: 7px 12px; font-size: 13px; font-weight: 600;
  background: #fef6e7; color: #7a4a00; border-bottom: 1px solid #f6dfb3;
}
.cx-conn::before {
  content: ""; width: 12px; height: 12px; border-radius: 50%;
  border: 2px solid currentColor; border-right-color: transparent; animation: cx-spin .8s linear infinite;
}
@keyframes cx-spin { to { transform: rotate(360deg); } }

.cx-body {
  flex: 1; overflow-y: auto; overscroll-behavior: contain; background: var(--cx-bg);
  padding: 18px 16px 8px;
}
.cx-log { display: flex; flex-direction: column; gap: 4px; }

.cx-row { display: flex; align-items: flex-end; gap: 8px; max-width: 100%; margin-top: 6px; }
.cx-row.cx-customer { justify-content: flex-end; }
.cx-avatar {
  flex: none; width: 28px; height: 28px; border-radius: 50%; display: grid; place-items: center;
  font-size: 12.5px; font-weight: 700; background: var(--cx-accent); color: var(--cx-on-accent);
}
.cx-agent .cx-avatar { background: #0e7c66; color: #fff; }
/* Initials and "Sam:" come from attributes, so a message's textContent is just its text. */
.cx-avatar::before, .cx-avatar-lg::before { content: attr(data-initial); }
.cx-bubble[data-speaker]::before {
  content: attr(data-speaker) ": "; position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}
.cx-stack { display: flex; flex-direction: column; min-width: 0; max-width: 80%; }
.cx-customer .cx-stack { align-items: flex-end; }
.cx-author { font-size: 12px; font-weight: 600; color: var(--cx-ink-2); margin: 0 0 3px 4px; }
.cx-bubble {
  padding: 10px 14px; border-radius: var(--cx-radius); white-space: pre-wrap;
  overflow-wrap: anywhere; background: #fff; color: var(--cx-ink);
  box-shadow: 0 1px 2px rgba(17, 24, 39, .08); border: 1px solid var(--cx-line);
  border-bottom-left-radius: 6px;
}
.cx-bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }
.cx-customer .cx-bubble {
  background: var(--cx-accent); color: var(--cx-on-accent); border-color: transparent;
  border-bottom-left-radius: var(--cx-radius); border-bottom-right-radius: 6px;
}
.cx-customer[data-state="pending"] .cx-bubble { opacity: .7; }
.cx-customer[data-state="failed"] .cx-bubble {
  background: #fff; color: var(--cx-ink); border: 1.5px solid var(--cx-danger);
}
.cx-meta { font-size: 12px; color: var(--cx-ink-2); margin: 3px 4px 0; display: flex; gap: 6px; align-items: center; }
.cx-customer[data-state="failed"] .cx-meta { color: var(--cx-danger); font-weight: 600; }
.cx-retry {
  border: 0; background: none; padding: 0 2px; color: var(--cx-danger); font-weight: 700;
  text-decoration: underline; text-underline-offset: 2px; font-size: 12px;
}
.cx-system {
  align-self: center; text-align: center; margin: 10px 0 6px; padding: 5px 12px;
  font-size: 12.5px; color: var(--cx-ink-2); background: #eceef4; border-radius: 999px;
  max-width: 90%;
}

/* Typing indicator */
.cx-typing { margin-top: 10px; }
.cx-dots { display: inline-flex; gap: 4px; padding: 13px 14px; }
.cx-dots i {
  width: 7px; height: 7px; border-radius: 50%; background: #8a90a2; display: block;
  animation: cx-bounce 1.2s infinite ease-in-out;
}
.cx-dots i:nth-child(2) { animation-delay: .15s; }
.cx-dots i:nth-child(3) { animation-delay: .3s; }
@keyframes cx-bounce { 0%, 60%, 100% { transform: translateY(0); opacity: .5; } 30% { transform: translateY(-5px); opacity: 1; } }

/* Cards: survey and thanks */
.cx-card {
  margin: 14px 0 8px; padding: 16px; background: #fff; border: 1px solid var(--cx-line);
  border-radius: 16px; box-shadow: 0 4px 14px rgba(17, 24, 39, .07);
}
.cx-card h3 { margin: 0 0 2px; font-size: 15.5px; }
.cx-card > p { margin: 0 0 12px; font-size: 13px; color: var(--cx-ink-2); }
.cx-q { border: 0; margin: 0 0 14px; padding: 0; min-width: 0; }
.cx-q legend { padding: 0; margin-bottom: 8px; font-size: 13.5px; font-weight: 600; }
.cx-scale { display: flex; gap: 4px; }
.cx-opt { position: relative; flex: 1; min-width: 0; }
/* The real radio covers its pill (invisible), so clicks, keyboard and tests all use it. */
.cx-opt input {
  position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0;
  cursor: pointer; z-index: 1;
}
.cx-opt > span {
  display: grid; place-items: center; height: 34px; border-radius: 9px; font-size: 13.5px;
  font-weight: 600; border: 1px solid #cfd3de; background: #fff; color: var(--cx-ink);
  transition: background .12s ease, border-color .12s ease;
}
.cx-scale-11 .cx-opt > span { height: 30px; font-size: 12.5px; border-radius: 7px; }
.cx-scale-11 { gap: 3px; }
.cx-opt input:hover + span { border-color: var(--cx-accent); background: color-mix(in srgb, var(--cx-accent) 8%, #fff); }
.cx-opt input:checked + span, .cx-opt input:checked:hover + span {
  background: var(--cx-accent); border-color: var(--cx-accent); color: var(--cx-on-accent);
}
.cx-opt input:focus-visible + span { outline: 3px solid var(--cx-focus); outline-offset: 2px; }
.cx-ends { display: flex; justify-content: space-between; font-size: 11.5px; color: var(--cx-ink-2); margin-top: 4px; }
.cx-comment-label { display: block; font-size: 13.5px; font-weight: 600; margin-bottom: 6px; }
.cx-comment {
  width: 100%; min-height: 64px; resize: vertical; padding: 9px 11px; border-radius: 10px;
  border: 1px solid #cfd3de; background: #fff; font-size: 14px;
}
.cx-comment:focus-visible { outline-offset: 0; }
.cx-card .cx-form-error { margin: 10px 0 0; font-size: 13px; color: var(--cx-danger); font-weight: 600; }
.cx-primary {
  margin-top: 12px; width: 100%; height: 40px; border: 0; border-radius: 10px;
  background: var(--cx-accent); color: var(--cx-on-accent); font-weight: 700; font-size: 14.5px;
}
.cx-primary:hover { filter: brightness(1.08); }
.cx-primary[disabled] { opacity: .6; cursor: progress; }
.cx-thanks { text-align: center; padding: 20px 16px; }
.cx-thanks .cx-check {
  width: 40px; height: 40px; border-radius: 50%; margin: 0 auto 8px; display: grid; place-items: center;
  background: #e7f6ee; color: #0b7a46; font-size: 22px; font-weight: 700;
}
.cx-thanks p { margin: 0; font-weight: 600; }

/* Composer */
.cx-error {
  flex: none; margin: 0; padding: 8px 14px; font-size: 13px; font-weight: 600;
  color: var(--cx-danger); background: #fef3f2; border-top: 1px solid #fbd5d2;
}
.cx-composer {
  flex: none; display: flex; align-items: flex-end; gap: 8px; padding: 10px 10px 10px 16px;
  border-top: 1px solid var(--cx-line); background: #fff;
}
.cx-input {
  flex: 1; min-width: 0; border: 0; resize: none; background: transparent; padding: 9px 0;
  max-height: 120px; line-height: 1.4; font-size: 15px;
}
.cx-input::placeholder { color: #6b7183; }
.cx-input:focus-visible { outline: none; }
.cx-composer:focus-within { box-shadow: inset 0 2px 0 var(--cx-accent); }
.cx-send {
  flex: none; width: 40px; height: 40px; border-radius: 12px; border: 0; display: grid;
  place-items: center; background: var(--cx-accent); color: var(--cx-on-accent);
  transition: opacity .15s ease, transform .15s ease;
}
.cx-send svg { fill: currentColor; }
.cx-send.cx-empty { opacity: .45; }
.cx-send:not(.cx-empty):hover { transform: translateY(-1px); }
.cx-footer {
  flex: none; text-align: center; font-size: 11.5px; color: #6b7183; padding: 0 0 8px; background: #fff;
}

/* Phones: the open panel takes the whole screen. */
@media (max-width: 480px) {
  .cx-root { bottom: 16px; }
  .cx-root.cx-right { right: 16px; } .cx-root.cx-left { left: 16px; }
  .cx-open .cx-launcher { display: none; }
  .cx-panel {
    position: fixed; inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0;
    animation-name: cx-slide;
  }
  @keyframes cx-slide { from { transform: translateY(24px); opacity: 0; } }
  .cx-input { font-size: 16px; } /* iOS zooms into smaller inputs */
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation-duration: .001s !important; animation-iteration-count: 1 !important; transition: none !important; }
}
`;
