"""`cxagent serve --workers N`'s processes: they share one listening socket, and the worker with
the fewest open connections takes the next (bot.cli.least_connections).

The workers started together also start accepting together: each builds its runtime, then
waits for the others before it takes connections (``StartsTogether``). A worker ready a second
or two before the others would take every connection opened meanwhile, the first customers' or
a proxy's pool, and keep them while they stayed alive: in the load benchmark's first scenario,
one worker of two ran 95% of the turns.

The supervisor here does what uvicorn's did for us: start the workers (``spawn``, each builds
its own runtime, and keeps its metrics in a folder the supervisor makes for them: bot.metrics),
start a new one when one dies, stop them all on SIGINT or SIGTERM, and stop
everything if a worker could not start at all (it would fail again the same way). It also
replaces a worker that hangs: each worker's event loop writes the time into memory the
supervisor reads (uvicorn's ``callback_notify``), and a worker silent for longer than its
timeout is killed and started again. A hung worker takes no new connections, but the customers
it holds would otherwise wait for ever. What uvicorn's does beyond that is left out: restarting
them all on SIGHUP, and adding or removing one on SIGTTIN or SIGTTOU.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from threading import BrokenBarrierError
from typing import Any, Protocol

from prometheus_client import multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.cli.least_connections import ABSENT, ConnectionCounts, LeastConnectionsServer
from bot.metrics import MULTIPROCESS_DIR_VARIABLE
from retrieval.errors import CxagentError

logger = logging.getLogger(__name__)

# uvicorn's exit code for a server whose start failed (the app's lifespan, the socket).
STARTUP_FAILURE = 3
# How often the supervisor looks at its workers, and how long each may take to stop.
CHECK_SECONDS = 0.5
STOP_SECONDS = 30.0
# How often a worker's event loop says it is running (uvicorn looks once a second, and calls
# when more than this has passed since it last did).
BEAT_SECONDS = 1
# How long a worker that has started waits for the others before it serves without them: a
# worker that fails to start stops them all, so this only bounds one that hangs while starting.
START_TOGETHER_SECONDS = 120.0
# Each worker's app, named as uvicorn names one: bot.cli.serve starts the supervisor below.
APP_FACTORY = "bot.cli.serve:app_from_environment"


class WorkersFailed(CxagentError):
    """A worker could not start; the others were stopped."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, for the workers to share. Raises OSError when
    the port is taken."""
    # uvicorn's default backlog: connections that open together wait here, not refused.
    return socket.create_server((host, port), family=_family(host), backlog=2048)


def check_port_free(host: str, port: int) -> None:
    """Raises OSError when a process listens on ``host``:``port`` (a plain bind, which does
    not share the port)."""
    socket.create_server((host, port), family=_family(host)).close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Barrier(Protocol):
    """What StartsTogether needs of a barrier (``multiprocessing``'s, or ``threading``'s)."""

    def wait(self, timeout: float | None = None) -> int: ...


class StartsTogether:
    """An ASGI app whose start-up is reported complete only once every worker started with it
    has completed its own (they meet at ``barrier``), or ``timeout`` seconds have passed.
    The worker takes connections only after that report."""

    def __init__(self, app: ASGIApp, barrier: Barrier, timeout: float = START_TOGETHER_SECONDS):
        self.app = app
        self.barrier = barrier
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_once_all_started(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                # On a thread: the supervisor's signals still reach this process's event loop.
                await asyncio.to_thread(self._wait_for_the_others)
            await send(message)

        await self.app(scope, receive, send_once_all_started)

    def _wait_for_the_others(self) -> None:
        try:
            self.barrier.wait(self.timeout)
        except BrokenBarrierError:
            # Timed out, or the supervisor let the waiting ones go (a worker ended or hung).
            logger.warning(
                "worker %d: not every worker started with it is ready; serving without them",
                os.getpid(),
            )
            return
        logger.info("worker %d: every worker has started; serving", os.getpid())


def app_starting_together(barrier: Barrier | None) -> ASGIApp:
    """The app of ``APP_FACTORY``; with ``barrier``, it starts serving with the workers that
    share it (StartsTogether)."""
    from uvicorn.importer import import_from_string

    app: ASGIApp = import_from_string(APP_FACTORY)()
    return app if barrier is None else StartsTogether(app, barrier)


def run_worker(
    listening: socket.socket,
    counts: ConnectionCounts,
    server_options: dict[str, Any],
    heartbeat: Synchronized[float],
    started_together: Barrier | None,
) -> None:
    """One worker process: uvicorn serving the app of ``bot.cli.serve.app_from_environment``,
    taking connections from ``listening`` while it has the fewest open (``counts``), its event
    loop writing the time into ``heartbeat``; with ``started_together``, it takes connections
    once the workers that share it have started."""
    import uvicorn

    async def beat() -> None:
        heartbeat.value = time.monotonic()  # one clock for every process on the machine

    config = uvicorn.Config(
        partial(app_starting_together, started_together),
        factory=True,
        callback_notify=beat,
        timeout_notify=BEAT_SECONDS,
        **server_options,
    )
    LeastConnectionsServer(config, listening, counts).run()


@dataclass
class Worker:
    process: BaseProcess
    # When the worker's event loop last ran (time.monotonic); 0 while it starts, before its
    # server runs: loading the model may take a while, and a start that fails ends the process.
    heartbeat: Synchronized[float]

    def silent_for(self) -> float:
        """Seconds since the worker's event loop last ran; 0 while it starts."""
        last = self.heartbeat.value
        return time.monotonic() - last if last else 0.0


def supervise(
    host: str,
    port: int,
    workers: int,
    server_options: dict[str, Any],
    hung_after: float,
) -> None:
    """Run ``workers`` processes on ``host``:``port`` until SIGINT or SIGTERM, replacing one
    that ends or whose event loop has not run for ``hung_after`` seconds (see above). Raises
    OSError when the port is taken, WorkersFailed when a worker could not start."""
    # Connections wait on it until the workers take them (their start-up included).
    listening = listening_socket(host, port)
    context = multiprocessing.get_context("spawn")
    open_connections = context.Array("i", [ABSENT] * workers)
    stopping = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopping.set())
    # The first workers take connections together; one started later to replace another takes
    # them when it is ready, beside workers that already serve.
    started_together = context.Barrier(workers)
    # Each run's counts start from nothing; the workers inherit the folder's name at spawn.
    metrics_folder = tempfile.mkdtemp(prefix="cxagent-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_folder

    def start(slot: int, barrier: Barrier | None) -> Worker:
        heartbeat = context.Value("d", 0.0)
        counts = ConnectionCounts(open_connections, slot)
        # Until it serves, the others take every connection.
        counts.leave()
        process = context.Process(
            target=run_worker,
            args=(listening, counts, server_options, heartbeat, barrier),
            name="cxagent-worker",
        )
        process.start()
        return Worker(process, heartbeat)

    running = [start(slot, started_together) for slot in range(workers)]
    logger.info(
        "started %d workers on %s:%d (pids %s)",
        workers,
        host,
        port,
        ", ".join(str(worker.process.pid) for worker in running),
    )
    try:
        while not stopping.wait(CHECK_SECONDS):
            for index, worker in enumerate(running):
                if replace_if_gone(worker, hung_after):
                    # Whoever still waits for it to start would wait in vain.
                    started_together.abort()
                    # Its turns stay counted; its turns running and its bound go.
                    multiprocess.mark_process_dead(worker.process.pid, metrics_folder)  # type: ignore[no-untyped-call]
                    running[index] = start(index, None)
    finally:
        started_together.abort()
        stop([worker.process for worker in running])
        shutil.rmtree(metrics_folder, ignore_errors=True)
        listening.close()


def replace_if_gone(worker: Worker, hung_after: float) -> bool:
    """Whether ``worker`` must be replaced: it ended, or it hung (it is killed). Raises
    WorkersFailed when it could not start."""
    process = worker.process
    if not process.is_alive():
        if process.exitcode == STARTUP_FAILURE:
            raise WorkersFailed(f"worker {process.pid} could not start (see its log above)")
        logger.warning(
            "worker %d ended (exit code %s); starting another", process.pid, process.exitcode
        )
        return True
    silent = worker.silent_for()
    if silent <= hung_after:
        return False
    logger.warning(
        "worker %d has not run its event loop for %.0f s (CXAGENT_WORKER_TIMEOUT_SECONDS is "
        "%g): killed, starting another",
        process.pid,
        silent,
        hung_after,
    )
    process.kill()
    process.join()
    return True


def stop(processes: list[BaseProcess]) -> None:
    """SIGTERM to each (uvicorn finishes the requests under way), then wait; kill what stays."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            logger.warning("worker %d did not stop in %.0f s; killed", process.pid, STOP_SECONDS)
            process.kill()
            process.join()
    logger.info("workers stopped (supervisor %d)", os.getpid())
