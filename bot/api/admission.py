"""Graceful overload: a bounded number of chat turns in flight in each process.

A turn that arrives when the bound's worth of turns are already running in this process is
refused at once with 503 and Retry-After (an ``error`` frame with ``retry_after`` on a socket),
before anything of it is stored, so the client sends it again later with the same id and it is
stored once. Without a bound, a burst queues without end: every turn waits behind all the
others, the waits pass what clients will wait for, the work goes on for clients that gave up,
and the database pool runs dry. With it, the turns that are taken keep their latency and the
rest are told, in a few milliseconds, when to come back.

The bound follows the process's speed (Little's law). Under overload what grows is the wait for
the model, which serves one batch at a time: with ``latency`` the time reading a message has
lately taken, ``running × target / latency`` turns in flight keep it near ``target`` seconds;
within the target, the bound goes back towards its ceiling.
A fixed bound was either too low for a fast process or, on a slow or shared machine, let
accepted turns wait seconds (200 customers on 2 cores: p99 6.6 s with 32 a process). Turns
slow for another reason (the company's API taking its time) do not lower it: they do not
compete for the cores. The configured ``limit`` stays the ceiling, and a few turns are always
admitted.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection


class Busy(Exception):
    """Every turn slot of this process is taken; nothing was stored."""


BUSY = "the service is busy; nothing was stored, please retry"


# Turns always admitted, however slow the process has been: it must keep measuring itself.
FEWEST_ADMITTED = 2
# How far each finished turn moves the bound towards the wanted one (smoothing over ~10).
SMOOTHING = 0.1


class TurnsInFlight:
    """Counts the chat turns this process is running and refuses one beyond the bound: at most
    ``limit``, lower when turns take longer than ``target_seconds`` (see above)."""

    def __init__(
        self,
        limit: int,
        target_seconds: float = 0.5,
        latency: Callable[[], float | None] = lambda: None,
    ):
        self.limit = limit
        self.target_seconds = target_seconds
        self._latency = latency
        self._running = 0
        self._bound = float(limit)
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    @property
    def bound(self) -> int:
        """How many turns may run at once now."""
        return max(min(FEWEST_ADMITTED, self.limit), min(self.limit, round(self._bound)))

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold a slot for the block; raises Busy when none is free."""
        with self._lock:
            if self._running >= self.bound:
                raise Busy(BUSY)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._finished()
                self._running -= 1

    def _finished(self) -> None:
        """A turn ended with ``running`` in flight (itself included): move the bound towards
        the concurrency that keeps the model's latency at the target."""
        latency = self._latency()
        if latency is None:
            return
        # Within the target, back towards the ceiling; beyond it, the concurrency at which
        # the model's latency would be the target.
        wanted = (
            self.limit
            if latency <= self.target_seconds
            else self._running * self.target_seconds / latency
        )
        wanted = min(float(self.limit), max(float(FEWEST_ADMITTED), wanted))
        self._bound += SMOOTHING * (wanted - self._bound)


async def get_turns_in_flight(connection: HTTPConnection) -> TurnsInFlight:
    turns: TurnsInFlight = connection.app.state.turns_in_flight
    return turns


TurnsInFlightDep = Annotated[TurnsInFlight, Depends(get_turns_in_flight)]


async def admit_turn(turns: TurnsInFlightDep) -> AsyncIterator[None]:
    """A route dependency: the turn holds a slot while it runs. Async, so that the refusal
    happens on arrival, before the turn waits for a worker thread."""
    with turns.admitted():
        yield
