"""Every worker serves the latest knowledge base within seconds of a change, without a restart.

A change is announced on the event hub (Redis between processes), and each worker also reads
the database's revision every ``check_seconds``, so one that missed the announcement (Redis
away, a worker just started) still catches up. A newer revision is read, its index built in
this module's own thread (only changed entries are encoded again, on the inference thread),
and the new retriever handed to ``serve`` in one assignment: a turn in flight keeps the
retriever it started with, and the next turn gets the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from bot.live.events import EventHub
from bot.support.knowledge import KNOWLEDGE_TOPIC, KnowledgeService, knowledge_base_of
from retrieval.index import IndexType
from retrieval.knowledge_base import KnowledgeBase
from retrieval.retriever import Retriever, updated_index

logger = logging.getLogger(__name__)


class KnowledgeSync:
    def __init__(
        self,
        knowledge: KnowledgeService,
        events: EventHub,
        retriever: Retriever,
        revision: int,
        serve: Callable[[Retriever], None],
        *,
        imported: KnowledgeBase | None = None,
        index_type: IndexType = "flat",
        check_seconds: float = 2.0,
    ) -> None:
        """``retriever`` serves ``revision`` now; ``serve`` puts a new retriever in service;
        ``imported`` is the YAML file's knowledge base (knowledge_base_of)."""
        self.knowledge = knowledge
        self.events = events
        self.retriever = retriever
        self.revision = revision
        self.serve = serve
        self.imported = imported
        self.index_type = index_type
        self.check_seconds = check_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # The thread's loop and task, for close() to cancel the wait at once.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._follow()), daemon=True, name="knowledge-sync"
        )
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            # A sync under way (an index being built) finishes first; it is never cut short.
            self._thread.join(timeout=30)

    def sync(self) -> bool:
        """Serve the database's knowledge base if it is newer than the one served; True if it
        was. Safe to call from any thread; one sync runs at a time."""
        with self._lock:
            if self.knowledge.revision() == self.revision:
                return False
            snapshot = self.knowledge.snapshot()
            knowledge_base = knowledge_base_of(snapshot, self.imported)
            index = updated_index(self.retriever, knowledge_base, self.index_type)
            retriever = Retriever(knowledge_base, self.retriever.encoder, index)
            self.serve(retriever)
            self.retriever, self.revision = retriever, snapshot.revision
            logger.info(
                "knowledge base: now serving revision %d (%d entries)",
                snapshot.revision,
                len(knowledge_base),
            )
            return True

    def swap(self, change: Callable[[Retriever], Retriever]) -> None:
        """Run ``change`` between two syncs: given the retriever served now, it puts another
        over the same knowledge base in service (a newly promoted model's, bot.serving_swap)
        and returns it, and the next sync builds on that one, with its encoder."""
        with self._lock:
            self.retriever = change(self.retriever)

    async def _follow(self) -> None:
        """Wake on an announcement or every ``check_seconds``, and sync, until closed."""
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if self._stopping.is_set():  # closed before the loop was there to cancel
            return
        with contextlib.suppress(asyncio.CancelledError):
            await self._listen()

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            async with self.events.subscribe(KNOWLEDGE_TOPIC) as listener:
                while not self._stopping.is_set():
                    try:
                        event = await asyncio.wait_for(listener.next(), self.check_seconds)
                    except TimeoutError:
                        event = {}
                    self._sync_safely()
                    if event is None:  # dropped by the hub: listen again
                        break

    def _sync_safely(self) -> None:
        # This thread must outlive a database that is briefly down: the next check tries again.
        try:
            self.sync()
        except Exception:
            logger.warning("knowledge base: could not sync, will try again", exc_info=True)
