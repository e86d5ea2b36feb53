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
import queue
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot.storage.db import safe_url
from retrieval.errors import CxagentError

if TYPE_CHECKING:
    import redis

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
# Seconds a Redis call may take before it counts as failed. A Redis that hangs (accepts the
# connection, never answers) then costs a publish this long, on the publishing thread, and never
# a customer's turn.
REDIS_TIMEOUT = 0.25
# The listening thread pings Redis on its subscription this often (seconds), and takes Redis as
# lost when an answer is this late: a hung Redis raises no error to notice it by.
PING_EVERY = 1.0
ANSWER_WITHIN = 1.0
# Events waiting for the publishing thread; past this, they stay in this process.
MAX_OUTBOX = 10_000
# Where a process that lost Redis says it is back: every process then drops its listeners, whose
# clients reconnect and read what they missed (events of that process that stayed local).
RESYNC_TOPIC = "resync"


def redis_client(url: str) -> redis.Redis:
    """A Redis client whose calls fail after REDIS_TIMEOUT instead of waiting on a hung server,
    and are not retried (redis-py retries three times with a back-off by default)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


class RedisEventHub(EventHub):
    """Events go through Redis, and every process (this one too) hears them from there.

    Events are published on a thread of their own, so a slow or hung Redis holds up no turn.
    If Redis fails or stops answering, events stay within this process and a warning is logged:
    nothing fails, since the database is the record. When Redis answers again, this process
    says so through Redis, and every process drops its local listeners, so that clients
    reconnect and catch up on what was said while events could not pass between processes.
    """

    def __init__(self, url: str, prefix: str = CHANNEL_PREFIX) -> None:
        import redis

        super().__init__()
        self._prefix = prefix
        self._redis = redis_client(url)
        try:
            self._redis.ping()
        except redis.RedisError as error:
            raise EventHubUnavailable(
                f"cannot reach Redis for live events at {safe_url(url)} ({error}); start it, or "
                "unset CXAGENT_REDIS_URL to run one server process without it"
            ) from None
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._outbox: queue.Queue[tuple[str, Event] | None] = queue.Queue(MAX_OUTBOX)
        self._threads = [
            threading.Thread(target=self._send, daemon=True, name="live-events-publish"),
            threading.Thread(target=self._listen, daemon=True, name="live-events-listen"),
        ]
        for thread in self._threads:
            thread.start()

    def publish(self, topic: str, event: Event) -> None:
        if not self._lost.is_set():
            try:
                self._outbox.put_nowait((topic, event))
                return
            except queue.Full:
                self._lose(f"{MAX_OUTBOX} events wait to be published")
        super().publish(topic, event)

    def _send(self) -> None:
        """The publishing thread: each event to Redis, or to this process's listeners while
        Redis is lost."""
        import redis

        while (item := self._outbox.get()) is not None and not self._stopping.is_set():
            topic, event = item
            if not self._lost.is_set():
                try:
                    self._redis.publish(self._prefix + topic, encode_event(event))
                    continue
                except redis.RedisError as error:
                    self._lose(error)
            super().publish(topic, event)

    def _listen(self) -> None:
        """The listening thread: what Redis relays goes to this process's listeners. A
        subscription that fails or stops answering is dropped and made again."""
        import redis

        while not self._stopping.is_set():
            pubsub = self._redis.pubsub()
            try:
                self._follow(pubsub)
            except (redis.RedisError, OSError) as error:
                self._lose(error)
                self._stopping.wait(RETRY_SECONDS)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _follow(self, pubsub: Any) -> None:
        import redis

        pubsub.psubscribe(f"{self._prefix}*")
        pinged = time.monotonic()
        awaited: float | None = pinged  # since when an answer is due (first, the subscription's)
        while not self._stopping.is_set():
            message = pubsub.get_message(timeout=0.2)
            now = time.monotonic()
            if message is not None:
                awaited = None
                if self._lost.is_set():
                    self._back()
                if message["type"] == "pmessage":
                    self._heard(message)
            elif awaited is not None and now - awaited > ANSWER_WITHIN:
                raise redis.TimeoutError(f"no answer from Redis in {ANSWER_WITHIN} s")
            if now - pinged >= PING_EVERY:
                pubsub.ping()
                pinged = now
                if awaited is None:
                    awaited = now

    def _heard(self, message: dict[str, Any]) -> None:
        topic = message["channel"].decode().removeprefix(self._prefix)
        if topic == RESYNC_TOPIC:
            self.drop_all()
        else:
            super().publish(topic, decode_event(message["data"]))

    def _lose(self, error: object) -> None:
        if not self._lost.is_set():
            logger.warning(
                "lost Redis (%s): live events stay in this process until it is back", error
            )
        self._lost.set()

    def _back(self) -> None:
        """Redis answers again: every process's clients catch up (this one's too, as it hears
        its own message)."""
        logger.info("Redis is back: live clients reconnect and catch up")
        self._redis.publish(self._prefix + RESYNC_TOPIC, encode_event({"type": RESYNC_TOPIC}))
        self._lost.clear()

    def close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._redis.close()


def encode_event(event: Event) -> str:
    """JSON for Redis. Events are plain JSON-ready data, so that nothing here needs to know the
    types of the services that publish them."""
    return json.dumps(event)


def decode_event(data: bytes | str) -> Event:
    event: Event = json.loads(data)
    return event
