"""`cxagent serve --workers N`: what it needs, and two real processes serving one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.cli import main
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


def connections_on(process: int, port: int) -> int:
    """The connections ``process`` has accepted on ``port``."""
    import psutil

    return sum(
        1
        for connection in psutil.Process(process).net_connections("tcp")
        if connection.laddr.port == port and connection.status == psutil.CONN_ESTABLISHED
    )


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
            time.sleep(1)
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


def started_workers(tmp_path: Path) -> int:
    return (tmp_path / "serve.log").read_text().count("Application startup complete")


@pytest.fixture
def two_workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, int]]:
    with serving_two_workers(tmp_path, redis_url) as served:
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
    # Connections that open together are spread over both workers (a socket each), not taken
    # by whichever woke first. 32 at random halves: one worker with under 6 is 1 in 10,000.
    port = int(url.rsplit(":", 1)[1])
    opened = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    try:
        deadline = time.monotonic() + 10
        while sum(held := [connections_on(worker, port) for worker in workers]) < 32:
            assert time.monotonic() < deadline, f"the workers accepted {held} of 32"
            time.sleep(0.1)
        assert min(held) >= 6, held
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


@pytest.mark.real_model
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_a_worker_that_hangs_is_killed_and_replaced(tmp_path: Path, redis_url: str) -> None:
    with serving_two_workers(tmp_path, redis_url, {"CXAGENT_WORKER_TIMEOUT_SECONDS": "4"}) as (
        url,
        pid,
    ):
        hung, running = worker_processes(pid)
        # A stopped process runs nothing, as a worker stuck in a loop or a lock runs nothing
        # else; the kernel would go on handing its socket half of the new connections.
        os.kill(hung, signal.SIGSTOP)
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

        # Every new customer is answered, whichever worker the kernel hands them to.
        def first_turn(number: int) -> int:
            with httpx.Client(base_url=url, timeout=30) as client:
                started = client.post("/api/conversations", json={}).json()
                sent = client.post(
                    f"/api/conversations/{started['conversation_id']}/messages",
                    json={"text": "how long does delivery take"},
                    headers={"Authorization": f"Bearer {started['customer_token']}"},
                )
                return sent.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(first_turn, range(16))) == [200] * 16
