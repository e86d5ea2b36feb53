/* The one reconnect back-off: exponential with jitter, so a restarting server is not hammered
   by every client at the same instant. */

/** Up to 30% longer than the nominal delay: spreads a thundering herd, never retries sooner. */
export const JITTER = 0.3;

/**
 * backoff({minMs, maxMs}): next() gives the delay before the next attempt (doubling from minMs,
 * capped at maxMs, plus jitter); reset() after a success starts again from minMs.
 * `random` is injectable so tests can pin the jitter.
 */
export function backoff({ minMs, maxMs, random = Math.random }) {
  if (!(minMs > 0) || !(maxMs >= minMs)) {
    throw new RangeError(`backoff needs 0 < minMs <= maxMs, got minMs=${minMs}, maxMs=${maxMs}`);
  }
  let nominal = minMs;
  return {
    next() {
      const delay = nominal * (1 + random() * JITTER);
      nominal = Math.min(nominal * 2, maxMs);
      return delay;
    },
    reset() {
      nominal = minMs;
    },
  };
}
