"""Live events shared through a real Redis between two server processes (two apps on one
database, as behind a load balancer), and what happens when Redis goes away and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.cli import main
from bot.live.events import EventHubUnavailable, redis_client
from bot.runtime import Runtime, build_runtime
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.service import STAFF_PASSWORD, make_settings
from tests.helpers.sockets import next_message, within
from tests.proxy import CuttableProxy


@pytest.fixture(scope="module")
def redis_address(redis_url: str) -> tuple[str, int]:
    kwargs = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    return kwargs["host"], kwargs["port"]


class Process:
    """One server process: its own runtime and event hub, on the shared database."""

    def __init__(self, tmp_path: Path, mini_kb_path: Path, redis_url: str) -> None:
        settings = make_settings(
            f"sqlite:///{tmp_path}/shared.db", tmp_path, mini_kb_path, redis_url=redis_url
        )
        self.runtime: Runtime = build_runtime(settings, encoder=FakeReader())
        self.client = TestClient(create_app(settings, self.runtime))
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.runtime.close()


@pytest.fixture
def processes(
    tmp_path: Path, mini_kb_path: Path, redis_address: tuple[str, int]
) -> Iterator[tuple[Process, Process, CuttableProxy]]:
    """Two processes: ``a`` reaches Redis through a proxy a test can cut, ``b`` directly."""
    host, port = redis_address
    proxy = CuttableProxy(port, host=host)
    a = Process(tmp_path, mini_kb_path, f"redis://127.0.0.1:{proxy.port}/0")
    b = Process(tmp_path, mini_kb_path, f"redis://{host}:{port}/0")
    a.runtime.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam")
    yield a, b, proxy
    a.close()
    b.close()
    proxy.close()


def staff_auth(client: TestClient) -> dict[str, str]:
    response = client.post("/api/staff/login", json={"username": "sam", "password": STAFF_PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


def escalate(client: TestClient) -> tuple[str, str]:
    started = client.post("/api/conversations", json={}).json()
    client.post(
        f"/api/conversations/{started['conversation_id']}/messages",
        json={"text": "I want a real person"},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    )
    return started["conversation_id"], started["customer_token"]


def test_a_reply_sent_to_one_process_reaches_a_customer_on_another(
    processes: tuple[Process, Process, CuttableProxy],
) -> None:
    a, b, _ = processes
    agent = staff_auth(a.client)
    staff_token = agent["Authorization"].removeprefix("Bearer ")
    started = b.client.post("/api/conversations", json={}).json()  # the customer is on b
    conversation_id, customer_token = started["conversation_id"], started["customer_token"]
    url = f"/api/conversations/{conversation_id}/ws?token={customer_token}"
    with (
        a.client.websocket_connect(f"/api/staff/ws?token={staff_token}") as console,
        b.client.websocket_connect(url) as customer,
    ):
        b.client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "I want a real person"},
            headers={"Authorization": f"Bearer {customer_token}"},
        )
        assert within(console) == {
            "type": "conversation",
            "conversation_id": conversation_id,
            "change": "escalated",
        }
        assert within(customer) == {"type": "status", "status": "waiting", "agent": None}
        a.client.post(f"/api/staff/conversations/{conversation_id}/take", headers=agent)
        assert within(customer) == {"type": "status", "status": "with_agent", "agent": "Sam"}
        a.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "Sam here"},
            headers=agent,
        )
        pushed = within(customer)
        assert pushed["type"] == "message"
        assert (pushed["message"]["text"], pushed["message"]["author"]) == ("Sam here", "Sam")
        assert "intent" not in pushed["message"]


def test_without_redis_events_stay_local_and_afterwards_clients_catch_up(
    processes: tuple[Process, Process, CuttableProxy],
) -> None:
    a, b, proxy = processes
    agent = staff_auth(a.client)
    conversation_id, customer_token = escalate(a.client)
    a.client.post(f"/api/staff/conversations/{conversation_id}/take", headers=agent)
    url = f"/api/conversations/{conversation_id}/ws?token={customer_token}"
    with a.client.websocket_connect(url) as customer:
        proxy.cut()
        sent = a.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "still here"},
            headers=agent,
        )
        assert sent.status_code == 200  # a Redis outage fails nothing
        assert next_message(customer)["message"]["text"] == "still here"  # this process heard it
        proxy.restore()
        # Back: the socket is closed so that the client reconnects and catches up.
        with pytest.raises(WebSocketDisconnect) as closed:
            within(customer, seconds=20)
        assert closed.value.code == 4503
    with a.client.websocket_connect(url) as customer:
        b_agent = {"Authorization": agent["Authorization"]}  # sessions live in the database
        b.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "from the other process"},
            headers=b_agent,
        )
        assert next_message(customer)["message"]["text"] == "from the other process"


def frames_until_closed(socket: WebSocketTestSession) -> tuple[list[Any], int]:
    """The frames a socket gets until the service closes it, and the close code."""
    frames = []
    while True:
        try:
            frames.append(within(socket, seconds=20))
        except WebSocketDisconnect as closed:
            return frames, closed.code


def test_a_hanging_redis_holds_up_no_turn_and_every_socket_catches_up_when_it_answers(
    processes: tuple[Process, Process, CuttableProxy],
) -> None:
    """Redis accepts connections and never answers (for ``a``): a's turns and events go on
    within a, what b says meanwhile cannot reach a, and when Redis answers again the sockets of
    both processes are closed so that their clients read what they missed."""
    a, b, proxy = processes
    agent = staff_auth(a.client)
    staff_token = agent["Authorization"].removeprefix("Bearer ")
    started = a.client.post("/api/conversations", json={}).json()
    conversation_id, customer_token = started["conversation_id"], started["customer_token"]
    customer_auth = {"Authorization": f"Bearer {customer_token}"}
    customer_url = f"/api/conversations/{conversation_id}/ws?token={customer_token}"
    with (
        a.client.websocket_connect(customer_url) as customer,
        a.client.websocket_connect(f"/api/staff/ws?token={staff_token}") as console_a,
        b.client.websocket_connect(f"/api/staff/ws?token={staff_token}") as console_b,
    ):
        a.client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "I want a real person"},
            headers=customer_auth,
        )
        a.client.post(f"/api/staff/conversations/{conversation_id}/take", headers=agent)
        assert [within(customer)["status"] for _ in range(2)] == ["waiting", "with_agent"]
        for console in (console_a, console_b):
            assert [within(console)["change"] for _ in range(2)] == ["escalated", "taken"]
        proxy.hang()
        # A Redis call gives up on the hung server rather than wait on it.
        with pytest.raises(redis.TimeoutError):
            redis_client(f"redis://127.0.0.1:{proxy.port}/0").ping()
        sent = a.client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "hello?", "client_message_id": "m-1"},
            headers=customer_auth,
        )
        assert sent.status_code == 200
        assert within(console_a)["change"] == "message"  # this process heard it
        a.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "still here"},
            headers=agent,
        )
        assert next_message(customer)["message"]["text"] == "still here"
        b.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "from the other process"},
            headers=agent,
        )
        assert within(console_b)["change"] == "message"  # through Redis, which b still reaches
        proxy.restore()
        # Redis answers again: every socket is closed, and its client reads what it missed.
        for socket in (customer, console_a, console_b):
            _, code = frames_until_closed(socket)
            assert code == 4503
    with a.client.websocket_connect(customer_url) as customer:
        b.client.post(
            f"/api/staff/conversations/{conversation_id}/messages",
            json={"text": "heard again"},
            headers=agent,
        )
        assert next_message(customer)["message"]["text"] == "heard again"


def test_an_unreachable_redis_stops_the_start_with_one_line(
    tmp_path: Path, mini_kb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nothing_listens = "redis://127.0.0.1:1/0"
    settings = make_settings(
        f"sqlite:///{tmp_path}/x.db", tmp_path, mini_kb_path, redis_url=nothing_listens
    )
    with pytest.raises(EventHubUnavailable, match="cannot reach Redis"):
        build_runtime(settings, encoder=FakeReader())
    environ = {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/y.db",
        "CXAGENT_REDIS_URL": nothing_listens,
        "CXAGENT_NLU_BUNDLE": "none",
        "CXAGENT_KNOWLEDGE_BASE": str(mini_kb_path),
        "CXAGENT_INDEX_DIR": str(tmp_path / "index"),
    }
    assert main(["serve"], environ=environ) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot reach Redis" in err and "Traceback" not in err and len(err.splitlines()) == 1
