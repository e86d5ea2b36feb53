/* Small timing helpers both pages use; the clock is injectable so tests need no real time. */

/** A gate that opens at most once every `ms`: `gate()` is true when the caller may go ahead. */
export function atMostEvery(ms, now = Date.now) {
  let last = -Infinity;
  const gate = () => {
    const t = now();
    if (t - last < ms) return false;
    last = t;
    return true;
  };
  gate.reset = () => {
    last = -Infinity;
  };
  return gate;
}

/** Call `fn` once calls have paused for `ms`; `cancel()` drops a pending call. */
export function debounce(fn, ms, timers = globalThis) {
  let timer = null;
  const wrapped = (...args) => {
    timers.clearTimeout(timer);
    timer = timers.setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => timers.clearTimeout(timer);
  return wrapped;
}
