"""Live events: services say what changed, open WebSockets hear it at once.

The services run in the server's thread pool; each WebSocket waits on an asyncio queue in the
event loop. `publish` is thread-safe and never blocks a service: it hands the event to each
listener's loop. Events are only hints to look again (a reply, a status change); the database
stays the record, so a client that was away catches up by reading it.

One process holds the hub, so run one server process (uvicorn's default); several processes
would each hear only their own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

logger = logging.getLogger(__name__)

Event = dict[str, Any]

# Staff consoles listen here for any change to a conversation in the queue.
STAFF_TOPIC = "staff"

# A listener that falls this far behind is dropped from the topic rather than grow without end;
# its socket closes and the client reconnects and catches up from the database.
MAX_PENDING = 1000


def conversation_topic(conversation_id: str) -> str:
    """Where the customer's own sockets listen."""
    return f"conversation:{conversation_id}"


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(MAX_PENDING)

    def deliver(self, event: Event | None) -> None:
        # Runs in the listener's loop.
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.warning("a live listener fell %d events behind; dropping it", MAX_PENDING)
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def next(self) -> Event | None:
        """The next event, or None when the listener was dropped."""
        return await self.queue.get()


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}

    def publish(self, topic: str, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners.get(topic, ()))
        for listener in listeners:
            # A closed loop means that listener is about to unsubscribe.
            with contextlib.suppress(RuntimeError):
                listener.loop.call_soon_threadsafe(listener.deliver, event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Listener]:
        listener = Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.setdefault(topic, set()).add(listener)
        try:
            yield listener
        finally:
            with self._lock:
                self._listeners[topic].discard(listener)
                if not self._listeners[topic]:
                    del self._listeners[topic]

    def listeners(self, topic: str) -> int:
        with self._lock:
            return len(self._listeners.get(topic, ()))
