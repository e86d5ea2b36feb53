// Test doubles for the browser parts the modules take as arguments: timers and WebSocket.

/** Timers on a fake clock: advance(ms) runs what falls due, in order. */
export class FakeTimers {
  now = 0;
  #next = 1;
  #due = new Map(); // id → {at, fn}

  setTimeout = (fn, ms = 0) => {
    const id = this.#next++;
    this.#due.set(id, { at: this.now + ms, fn });
    return id;
  };

  clearTimeout = (id) => {
    this.#due.delete(id);
  };

  get pending() {
    return [...this.#due.values()].map(({ at }) => at - this.now);
  }

  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const [id, next] = [...this.#due.entries()].sort((a, b) => a[1].at - b[1].at)[0] || [];
      if (!next || next.at > until) break;
      this.#due.delete(id);
      this.now = next.at;
      next.fn();
    }
    this.now = until;
  }
}

/** A WebSocket the test drives: open(), frame(), close(code). Every instance is recorded. */
export class FakeWebSocket {
  static made = [];
  sent = [];
  closed = false;

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.made.push(this);
  }

  static reset() {
    FakeWebSocket.made = [];
  }

  static get last() {
    return FakeWebSocket.made[FakeWebSocket.made.length - 1];
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.closed = true;
  }

  open() {
    this.onopen?.({});
  }

  frame(data) {
    this.onmessage?.({ data: typeof data === "string" ? data : JSON.stringify(data) });
  }

  /** The server or the network closed it; resolves once the close handler has run. */
  async drop(code = 1006) {
    this.closed = true;
    await this.onclose?.({ code });
  }
}
