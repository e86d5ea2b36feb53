"""`cxagent serve --workers N`'s workers share one listening socket, and the one with the fewest
open connections takes the next.

A customer keeps a connection (a WebSocket, or REST kept alive) for the whole conversation, so
a worker handed more customers than the others keeps them for as long as they stay. Two ways
were tried before, and both shared out by chance rather than by load:

- one socket that each worker accepts from as it wakes (uvicorn's ``--workers``): a worker that
  woke took every connection waiting, so connections that opened together went mostly to one;
- a socket each (SO_REUSEPORT), the kernel choosing by a hash of the addresses: 50 customers
  went 16/34, 18/32, 19/31 and 24/26 in four runs, and the busier worker's turns took 1.5 to 1.8
  times as long.

Here each worker publishes its open connections in memory the workers share
(``ConnectionCounts``), and takes a waiting connection only while it has no more than the
fewest among the others, as nginx's ``least_conn`` does between upstreams. A worker that does
not take it in ``PATIENCE_SECONDS`` (busy, or hung until the supervisor replaces it) leaves it
to whoever looks next, so no connection waits on one worker.

On two cores an even split was not measurably faster under load than the kernel's (alternated
on 2026-12-03: docs/benchmarks/README.md); what it gives is an even split every time, and no new
customer handed to a hung worker, where the kernel went on handing it its share until it was
killed, and their connections were reset then.

uvicorn serves each accepted connection as its own server would (``loop.connect_accepted_socket``
with the protocol its server builds); only its accepting is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

import uvicorn

logger = logging.getLogger(__name__)

# A slot of a worker that is not serving (not started yet, stopped or dead).
ABSENT = -1
# How long a worker with more connections than another leaves a waiting connection to it.
PATIENCE_SECONDS = 0.05


class ConnectionCounts:
    """The open connections of each worker, one slot each in ``shared``; this worker's is
    ``slot``."""

    def __init__(self, shared: SynchronizedArray[int], slot: int):
        self.shared = shared
        self.slot = slot

    def publish(self, count: int) -> None:
        self.shared[self.slot] = count

    def leave(self) -> None:
        self.shared[self.slot] = ABSENT

    def fewest_elsewhere(self) -> int | None:
        """The fewest open connections of another worker that serves; None when none does."""
        others = [
            count
            for slot, count in enumerate(self.shared[:])
            if slot != self.slot and count != ABSENT
        ]
        return min(others, default=None)


class LeastConnectionsServer(uvicorn.Server):
    """uvicorn's server, taking connections from ``listening`` (shared with the other workers)
    while it has no more open than any other worker (``counts``)."""

    def __init__(self, config: uvicorn.Config, listening: socket.socket, counts: ConnectionCounts):
        super().__init__(config)
        self.listening = listening
        self.counts = counts
        self.accepting: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # No socket of uvicorn's own: it runs the app's start-up and builds no listener.
        await super().startup(sockets=[])
        self.counts.publish(0)
        self.accepting = asyncio.create_task(self.accept_connections())

    async def on_tick(self, counter: int) -> bool:
        # Ten times a second: connections closed since the last one accepted count too.
        self.counts.publish(len(self.server_state.connections))
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.counts.leave()
        if self.accepting is not None:
            self.accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.accepting
        self.listening.close()  # this process's copy: the supervisor keeps the port
        await super().shutdown(sockets)

    async def accept_connections(self) -> None:
        loop = asyncio.get_running_loop()
        self.listening.setblocking(False)
        while True:
            await readable(loop, self.listening)
            if not self.has_fewest():
                # Left to a worker with fewer; still waiting after that, it is anyone's.
                await asyncio.sleep(PATIENCE_SECONDS)
            try:
                connection, _ = self.listening.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError as error:  # out of file descriptors, say: the next may go
                logger.warning("could not accept a connection: %s", error)
                await asyncio.sleep(PATIENCE_SECONDS)
                continue
            await self.serve_connection(loop, connection)

    def has_fewest(self) -> bool:
        mine = len(self.server_state.connections)
        self.counts.publish(mine)
        fewest = self.counts.fewest_elsewhere()
        return fewest is None or mine <= fewest

    async def serve_connection(
        self, loop: asyncio.AbstractEventLoop, connection: socket.socket
    ) -> None:
        connection.setblocking(False)
        try:
            await loop.connect_accepted_socket(self.new_protocol, connection)
        except OSError as error:  # the client went away before it was served
            logger.debug("connection dropped as it was accepted: %s", error)
            connection.close()

    def new_protocol(self, _loop: Any = None) -> asyncio.Protocol:
        """The protocol uvicorn's own server makes for a connection (uvicorn.Server.startup)."""
        config = self.config
        protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
            _loop=_loop,
        )
        return protocol


async def readable(loop: asyncio.AbstractEventLoop, listening: socket.socket) -> None:
    """Returns once a connection waits on ``listening``."""
    ready = loop.create_future()

    def mark_ready() -> None:
        if not ready.done():
            ready.set_result(None)

    descriptor = listening.fileno()
    loop.add_reader(descriptor, mark_ready)
    try:
        await ready
    finally:
        loop.remove_reader(descriptor)
