"""Graceful overload: a bounded number of chat turns in flight in each process.

A turn that arrives when the bound's worth of turns are already running in this process is
refused at once with 503 and Retry-After (an ``error`` frame with ``retry_after`` on a socket),
before anything of it is stored, so the client sends it again later with the same id and it is
stored once. Without a bound, a burst queues without end: every turn waits behind all the
others, the waits pass what clients will wait for, the work goes on for clients that gave up,
and the database pool runs dry. With it, the turns that are taken keep their latency and the
rest are told, in a few milliseconds, when to come back.

The bound follows the process's speed (Little's law). When turns hold their slots, from arrival
in the route to the answer, longer than ``target`` seconds, the bound moves towards the number
of turns the process finishes in ``target`` seconds (its throughput × target), which keeps
the turns it takes near the target; when they are quick, it rises back towards its ceiling.
The time held takes in every wait of the process, for a request thread, for the model, for the
database, and the GIL's. Following the model's latency alone was not enough: with batching it
stayed at a few milliseconds while 200 customers on a slow machine waited seconds for request
threads and the event loop, so the bound never fell. A fixed bound was either too low for a
fast process or, on a slow or shared machine, let accepted turns wait seconds (200 customers
on 2 cores: p99 6.6 s with 32 a process). The time a turn waited for the company's API is left
out (the turn tells its slot): it does not load this process. The configured ``limit`` stays
the ceiling, and a few turns are always admitted.

Each turn's time, the turns running, the bound and the refusals go to /metrics (bot.metrics).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from bot import metrics


class Busy(Exception):
    """Every turn slot of this process is taken; nothing was stored."""


BUSY = "the service is busy; nothing was stored, please retry"


# Turns always admitted, however slow the process has been: it must keep measuring itself.
FEWEST_ADMITTED = 2
# How far each finished turn moves the bound towards the wanted one (smoothing over ~10).
SMOOTHING = 0.1


class TurnSlot:
    """A turn's hold on one slot. The turn adds the seconds it waited for the company's API,
    which are left out of the time it held the slot (see above)."""

    __slots__ = ("company_seconds",)

    def __init__(self) -> None:
        self.company_seconds = 0.0


class TurnsInFlight:
    """Counts the chat turns this process is running and refuses one beyond the bound: at most
    ``limit``, lower when turns hold their slots longer than ``target_seconds`` (see above).
    ``clock`` is injectable so that tests can say how long turns take."""

    def __init__(
        self,
        limit: int,
        target_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.target_seconds = target_seconds
        self._clock = clock
        self._running = 0
        self._bound = float(limit)
        # Seconds between two turns ending while others ran (smoothed): 1 / the throughput.
        self._gap: float | None = None
        self._last_end: float | None = None
        self._lock = threading.Lock()
        metrics.TURN_BOUND.set(self.bound)

    @property
    def running(self) -> int:
        return self._running

    @property
    def bound(self) -> int:
        """How many turns may run at once now."""
        return max(min(FEWEST_ADMITTED, self.limit), min(self.limit, round(self._bound)))

    @contextmanager
    def admitted(self) -> Iterator[TurnSlot]:
        """Hold a slot for the block; raises Busy when none is free."""
        with self._lock:
            if self._running >= self.bound:
                metrics.TURNS_REFUSED.inc()
                raise Busy(BUSY)
            self._running += 1
            metrics.TURNS_RUNNING.set(self._running)
        slot = TurnSlot()
        began = self._clock()
        try:
            yield slot
        finally:
            ended = self._clock()
            held = ended - began - slot.company_seconds
            with self._lock:
                self._finished(ended, held)
                self._running -= 1
                metrics.TURNS_RUNNING.set(self._running)
                metrics.TURN_BOUND.set(self.bound)
            metrics.TURN_SECONDS.observe(held)

    def _finished(self, ended: float, held: float) -> None:
        """A turn ended at ``ended`` with ``running`` in flight (itself included), having held
        its slot ``held`` seconds: move the bound a tenth of the way (smoothing over about ten
        turns) towards as many turns as the process finishes within the target."""
        # Only a gap during which the process was busy says how fast it works.
        if self._last_end is not None and self._running > 1:
            gap = ended - self._last_end
            self._gap = gap if self._gap is None else self._gap + SMOOTHING * (gap - self._gap)
        self._last_end = ended
        if self._gap is None:
            return
        # Little's law on the throughput, not on this turn's time: that time is the queue it
        # met on arrival, so a bound steered by it overshot and swung between a third and
        # nearly all of the ceiling. A quick turn never lowers the bound: a lone customer's
        # turns say nothing of how many the process can take at once.
        wanted = self.target_seconds / max(self._gap, 1e-6)
        if held <= self.target_seconds:
            wanted = max(wanted, self._bound)
        wanted = min(float(self.limit), max(float(FEWEST_ADMITTED), wanted))
        self._bound += SMOOTHING * (wanted - self._bound)


async def get_turns_in_flight(connection: HTTPConnection) -> TurnsInFlight:
    turns: TurnsInFlight = connection.app.state.turns_in_flight
    return turns


TurnsInFlightDep = Annotated[TurnsInFlight, Depends(get_turns_in_flight)]


async def admit_turn(turns: TurnsInFlightDep) -> AsyncIterator[TurnSlot]:
    """A route dependency: the turn holds a slot while it runs. Async, so that the refusal
    happens on arrival, before the turn waits for a worker thread."""
    with turns.admitted() as slot:
        yield slot
