"""`cxagent serve --workers N`: what it needs, and two real processes serving one port."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.cli import main
from bot.cli.least_connections import ABSENT, ConnectionCounts
from bot.cli.workers import StartsTogether
from tests.conftest import _postgres_schema_url
from tests.helpers.servers import up

START_SECONDS = 300  # three model loads (the checks, then each worker) on a busy CI machine


def test_several_workers_without_redis_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/cx.db"}
    assert main(["serve", "--workers", "2"], environ=environ) == 2
    error = capsys.readouterr().err
    assert "--workers 2 needs CXAGENT_REDIS_URL" in error and error[-1] == "\n"
    assert main(["serve", "--workers", "0"], environ=environ) == 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_taken_is_refused_before_anything_starts(
    tmp_path: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    # Several workers read their settings from the environment alone.
    monkeypatch.setenv("CXAGENT_DATABASE_URL", f"sqlite:///{tmp_path}/cx.db")
    monkeypatch.setenv("CXAGENT_REDIS_URL", redis_url)
    try:
        assert main(["serve", "--port", str(port), "--workers", workers]) == 2
    finally:
        taken.close()
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "cx.db").exists()  # no runtime was built: no model loaded


async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that starts at once and answers every request with 204."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def start_up(app: ASGIApp, sent: list[Message]) -> None:
    """Run ``app``'s lifespan start-up, keeping what it reports in ``sent``."""

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)


def test_a_worker_reports_its_start_up_once_every_worker_started_with_it_has(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cli.workers")
    barrier = threading.Barrier(2)
    sent: list[Message] = []

    async def scenario() -> None:
        starting = asyncio.create_task(start_up(StartsTogether(lifespan_app, barrier), sent))
        await asyncio.sleep(0.3)
        # uvicorn makes the socket listen only on this report: not before the other worker.
        assert sent == [] and not starting.done()
        await asyncio.to_thread(barrier.wait)  # the other worker has started
        await starting

    asyncio.run(scenario())
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert "every worker has started; serving" in caplog.text

    # Requests go to the app as they came.
    answered: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        answered.append(message)

    asyncio.run(StartsTogether(lifespan_app, barrier)({"type": "http"}, receive, send))
    assert answered[0]["status"] == 204


@pytest.mark.parametrize("let_go", ["aborted", "timed out"])
def test_a_worker_serves_without_the_others_when_they_cannot_start(
    caplog: pytest.LogCaptureFixture, let_go: str
) -> None:
    barrier = threading.Barrier(2)
    if let_go == "aborted":  # the supervisor saw one end or hang
        barrier.abort()
    sent: list[Message] = []
    asyncio.run(start_up(StartsTogether(lifespan_app, barrier, timeout=0.2), sent))
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert "not every worker started with it is ready; serving without them" in caplog.text


def test_a_worker_compares_its_connections_with_the_others_that_serve() -> None:
    shared = multiprocessing.get_context("spawn").Array("i", [ABSENT] * 3)
    first, second, third = (ConnectionCounts(shared, slot) for slot in range(3))
    assert first.fewest_elsewhere() is None  # alone, it takes every connection
    first.publish(4)
    second.publish(7)
    assert first.fewest_elsewhere() == 7
    assert second.fewest_elsewhere() == 4
    third.publish(2)
    assert first.fewest_elsewhere() == 2
    third.leave()  # stopped or dead: it takes none, and no one waits for it
    assert first.fewest_elsewhere() == 7
    assert third.fewest_elsewhere() == 4


def worker_processes(parent: int) -> list[int]:
    """The workers `cxagent serve --workers` spawned for ``parent`` (its multiprocessing
    helpers aside)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError):
            continue
        if int(fields.get("PPid", "0").strip()) == parent and b"spawn_main" in command:
            found.append(int(status.parent.name))
    return found


def accepted(workers: list[int], port: int, expected: int) -> list[int]:
    """The connections each of ``workers`` holds on ``port``, once they hold ``expected`` in
    all."""
    deadline = time.monotonic() + 10
    while sum(held := [connections_on(worker, port) for worker in workers]) != expected:
        assert time.monotonic() < deadline, f"the workers hold {held}, not {expected}"
        time.sleep(0.05)
    return held


def holders(workers: list[int], port: int) -> dict[int, int]:
    """Which of ``workers`` holds each connection on ``port``, by the client's port."""
    return {
        client_port: worker for worker in workers for client_port in accepted_from(worker, port)
    }


def connections_on(process: int, port: int) -> int:
    """The connections ``process`` has accepted on ``port``."""
    return len(accepted_from(process, port))


def accepted_from(process: int, port: int) -> list[int]:
    """The client ports of the connections ``process`` has accepted on ``port``."""
    import psutil

    return [
        connection.raddr.port
        for connection in psutil.Process(process).net_connections("tcp")
        if connection.laddr.port == port and connection.status == psutil.CONN_ESTABLISHED
    ]


@contextmanager
def serving_two_workers(
    tmp_path: Path, redis_url: str, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """A real `cxagent serve --workers 2` of the demo on PostgreSQL and Redis, with
    ``settings`` over the environment: (URL, its pid)."""
    from benchmarks.common import free_port

    database = next(schema := _postgres_schema_url())
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CXAGENT_")}
    env.update(
        CXAGENT_DATABASE_URL=database,
        CXAGENT_REDIS_URL=redis_url,
        CXAGENT_INDEX_DIR=str(tmp_path / "index"),
        CXAGENT_DEMO_SHOP_DIR=str(tmp_path / "shop"),
        CXAGENT_RATE_LIMITS="false",
        HF_HUB_OFFLINE="1",
        **(settings or {}),
    )
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while len(worker_processes(process.pid)) < 2 or not up(url):
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start in time"
            time.sleep(0.1)  # often: the first answer comes as early as it can
        # They listen together: whichever answered, both had built their runtimes by then.
        assert built_runtimes(tmp_path) == 2, (tmp_path / "serve.log").read_text()[-3000:]
        # Both workers have built their runtimes (each says so) before the port takes turns.
        while started_workers(tmp_path) < 2:
            assert time.monotonic() < deadline, "a worker did not finish starting"
            time.sleep(1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
        next(schema, None)  # drops the schema


def built_runtimes(tmp_path: Path) -> int:
    """The runtimes built in the log: the first process's checks, then each worker's."""
    return (tmp_path / "serve.log").read_text().count("bot.runtime: ready:") - 1


def started_workers(tmp_path: Path) -> int:
    return (tmp_path / "serve.log").read_text().count("Application startup complete")


@pytest.fixture
def two_workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, int]]:
    with serving_two_workers(tmp_path, redis_url, {"CXAGENT_METRICS_TOKEN": "scrape-me"}) as served:
        yield served


@pytest.mark.real_model
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_two_workers_answer_on_one_port_and_store_each_message_once(
    two_workers: tuple[str, int],
) -> None:
    url, pid = two_workers
    workers = worker_processes(pid)
    assert len(workers) == 2
    port = int(url.rsplit(":", 1)[1])
    # Connections that open together are shared out by the workers' open connections, not
    # taken by whichever woke first (uvicorn's shared socket gave 31 to 1) nor by chance (a
    # socket each gave 10 to 22).
    opened = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    try:
        held = accepted(workers, port, 32)
        assert min(held) >= 14, held
    finally:
        for connection in opened:
            connection.close()
    # One at a time, each goes to the worker with fewer: closing six of one worker's, the next
    # six all go to it.
    opened = []
    try:
        for number in range(1, 21):
            opened.append(socket.create_connection(("127.0.0.1", port)))
            held = accepted(workers, port, number)
        assert held == [10, 10]
        first_workers = holders(workers, port)
        closed = [c for c in opened if first_workers[c.getsockname()[1]] == workers[0]][:6]
        for connection in closed:
            opened.remove(connection)
            connection.close()
        accepted(workers, port, 14)
        time.sleep(0.5)  # its count is told to the other at its next tick, ten a second
        for number in range(15, 21):
            opened.append(socket.create_connection(("127.0.0.1", port)))
            held = accepted(workers, port, number)
        assert held == [10, 10]
    finally:
        for connection in opened:
            connection.close()

    def conversation(number: int) -> list[str]:
        with httpx.Client(base_url=url, timeout=60) as client:
            started = client.post("/api/conversations", json={}).json()
            auth = {"Authorization": f"Bearer {started['customer_token']}"}
            path = f"/api/conversations/{started['conversation_id']}/messages"
            for turn in range(3):
                body = {
                    "text": "how long does delivery take",
                    "client_message_id": f"{number}-{turn}",
                }
                sent = client.post(path, json=body, headers=auth)
                assert sent.status_code == 200, sent.text
                assert sent.json()["reply"] is not None
            client.post(
                path,
                json={"text": "how long does delivery take", "client_message_id": f"{number}-0"},
                headers=auth,
            )
            return [
                m["client_message_id"]
                for m in client.get(path, headers=auth).json()["messages"]
                if m["role"] == "customer"
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(conversation, range(16)))
    # Every message stored once, the resend of the first one included, whichever process took it.
    assert stored == [[f"{n}-0", f"{n}-1", f"{n}-2"] for n in range(16)]

    # Whichever worker answers a scrape, it counts every worker's turns: four a conversation.
    # The second client's connection, opened while the first's is held, goes to the other worker.
    with httpx.Client(base_url=url) as first, httpx.Client(base_url=url) as second:
        for client in (first, second, first, second):
            scrape = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
            assert scrape.status_code == 200, scrape.text
            assert "\ncxagent_turn_seconds_count 64.0\n" in scrape.text, scrape.text


@pytest.mark.real_model
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_a_worker_that_hangs_is_killed_and_replaced(tmp_path: Path, redis_url: str) -> None:
    with serving_two_workers(tmp_path, redis_url, {"CXAGENT_WORKER_TIMEOUT_SECONDS": "20"}) as (
        url,
        pid,
    ):
        hung, running = worker_processes(pid)
        # A stopped process runs nothing, as a worker stuck in a loop or a lock runs nothing
        # else; its customers wait until it is replaced.
        os.kill(hung, signal.SIGSTOP)
        # While it hangs, new customers are taken by the other worker, not left to wait for it
        # (a customer it took would be cut off when it is killed, and fail here).
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(partial(first_turn, url), range(16))) == [200] * 16
        deadline = time.monotonic() + START_SECONDS
        while hung in (workers := worker_processes(pid)) or len(workers) < 2:
            assert time.monotonic() < deadline, "the hung worker was not replaced"
            time.sleep(0.5)
        assert running in workers
        while started_workers(tmp_path) < 3:
            assert time.monotonic() < deadline, "the new worker did not finish starting"
            time.sleep(1)
        log = (tmp_path / "serve.log").read_text()
        assert f"worker {hung} has not run its event loop for" in log

        # Every new customer is answered, whichever worker takes them.
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(partial(first_turn, url), range(16))) == [200] * 16


def first_turn(url: str, number: int) -> int:
    """A new customer's first turn: its status."""
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/api/conversations", json={}).json()
        sent = client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": "how long does delivery take"},
            headers={"Authorization": f"Bearer {started['customer_token']}"},
        )
        return sent.status_code
