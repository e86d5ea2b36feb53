"""Live events: services say what changed, open WebSockets hear it at once.

The services run in the server's thread pool; each WebSocket waits on an asyncio queue in the
event loop. `publish` is thread-safe and never blocks a service: it hands the event to each
listener's loop. Events are only hints to look again (a reply, a status change); the database
stays the record, so a client that was away catches up by reading it.

`EventHub` keeps events within one server process. With several processes (behind a load
balancer, for availability), `RedisEventHub` shares them through Redis pub/sub: a person's reply
sent to one process reaches a customer whose socket is open on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.storage.db import safe_url
from retrieval.errors import CxagentError

logger = logging.getLogger(__name__)

# A live event: plain JSON-ready data ("type" says which kind), published by the services.
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

    def announce(
        self,
        conversation_id: str,
        change: str,
        status: str | None = None,
        agent: str | None = None,
    ) -> None:
        """Tell the consoles what changed in a conversation and, for a new status, the
        customer's sockets too."""
        self.publish(
            STAFF_TOPIC,
            {"type": "conversation", "conversation_id": conversation_id, "change": change},
        )
        if status is not None:
            self.publish(
                conversation_topic(conversation_id),
                {"type": "status", "status": str(status), "agent": agent},
            )

    def listeners(self, topic: str) -> int:
        with self._lock:
            return len(self._listeners.get(topic, ()))

    def drop_all(self) -> None:
        """End every listener: their sockets close, the clients reconnect and catch up from the
        database. For when events may have been missed."""
        with self._lock:
            listeners = [listener for group in self._listeners.values() for listener in group]
        for listener in listeners:
            with contextlib.suppress(RuntimeError):
                listener.loop.call_soon_threadsafe(listener.deliver, None)

    def close(self) -> None:
        """Nothing to release in one process."""


class EventHubUnavailable(CxagentError, RuntimeError):
    """The Redis server that shares live events between processes cannot be reached."""


# Redis channels are "<prefix><topic>"; the prefix keeps several installs on one Redis apart.
CHANNEL_PREFIX = "cxagent:"
# How long the listening thread waits before trying a lost Redis again.
RETRY_SECONDS = 1.0


class RedisEventHub(EventHub):
    """Events go through Redis, and every process (this one too) hears them from there.

    If Redis goes away, publishing falls back to this process's own listeners and logs a
    warning: nothing fails, since the database is the record. When Redis is back, every local
    listener is dropped, so that clients reconnect and catch up on what other processes said
    in the meantime.
    """

    def __init__(self, url: str, prefix: str = CHANNEL_PREFIX) -> None:
        import redis

        super().__init__()
        self._prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            self._redis.ping()
        except redis.RedisError as error:
            raise EventHubUnavailable(
                f"cannot reach Redis for live events at {safe_url(url)} ({error}); start it, or "
                "unset CXAGENT_REDIS_URL to run one server process without it"
            ) from None
        self._lost = threading.Event()
        # redis-py leaves pubsub() unannotated.
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.psubscribe(**{f"{prefix}*": self._heard})
        self._thread = self._pubsub.run_in_thread(
            sleep_time=0.5, daemon=True, exception_handler=self._connection_trouble
        )

    def publish(self, topic: str, event: Event) -> None:
        import redis

        try:
            self._redis.publish(self._prefix + topic, encode_event(event))
        except redis.RedisError as error:
            if not self._lost.is_set():
                logger.warning("Redis is unreachable (%s): live events stay in this process", error)
            self._lost.set()
            super().publish(topic, event)

    def _heard(self, message: dict[str, Any]) -> None:
        topic = message["channel"].decode().removeprefix(self._prefix)
        super().publish(topic, decode_event(message["data"]))

    def _connection_trouble(self, error: BaseException, pubsub: Any, thread: Any) -> None:
        """Runs on the listening thread when Redis fails; the next read reconnects and
        subscribes again."""
        import redis

        if not isinstance(error, redis.RedisError | OSError):
            logger.exception("live events: unexpected error", exc_info=error)
        if not self._lost.is_set():
            logger.warning(
                "lost Redis (%s): live events stay in this process until it is back", error
            )
        self._lost.set()
        time.sleep(RETRY_SECONDS)
        try:
            self._redis.ping()
        except redis.RedisError:
            return
        logger.info("Redis is back: live clients reconnect and catch up")
        self._lost.clear()
        self.drop_all()

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=5)
        self._redis.close()


def encode_event(event: Event) -> str:
    """JSON for Redis. Events are plain JSON-ready data, so that nothing here needs to know the
    types of the services that publish them."""
    return json.dumps(event)


def decode_event(data: bytes | str) -> Event:
    event: Event = json.loads(data)
    return event
