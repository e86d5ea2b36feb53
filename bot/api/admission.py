"""Graceful overload: a bounded number of chat turns in flight in each process.

A turn that arrives when ``limit`` turns are already running in this process is refused at
once with 503 and Retry-After (an ``error`` frame with ``retry_after`` on a socket), before
anything of it is stored, so the client sends it again later with the same id and it is stored
once. Without a bound, a burst queues without end: every turn waits behind all the others, the
waits pass what clients will wait for, the work goes on for clients that gave up, and the
database pool runs dry. With it, the turns that are taken keep their latency and the rest are
told, in a few milliseconds, when to come back.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection


class Busy(Exception):
    """Every turn slot of this process is taken; nothing was stored."""


BUSY = "the service is busy; nothing was stored, please retry"


class TurnsInFlight:
    """Counts the chat turns this process is running and refuses one beyond ``limit``."""

    def __init__(self, limit: int):
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold a slot for the block; raises Busy when none is free."""
        with self._lock:
            if self._running >= self.limit:
                raise Busy(BUSY)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1


async def get_turns_in_flight(connection: HTTPConnection) -> TurnsInFlight:
    turns: TurnsInFlight = connection.app.state.turns_in_flight
    return turns


TurnsInFlightDep = Annotated[TurnsInFlight, Depends(get_turns_in_flight)]


async def admit_turn(turns: TurnsInFlightDep) -> AsyncIterator[None]:
    """A route dependency: the turn holds a slot while it runs. Async, so that the refusal
    happens on arrival, before the turn waits for a worker thread."""
    with turns.admitted():
        yield
