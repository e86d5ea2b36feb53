"""Limits on abuse: conversations and messages per address and per conversation, log-in
attempts per address, the lockout of an account after too many wrong passwords, and log-ins
that cost the same work whether the account exists or not. Counts shared through Redis, and
kept in the process when Redis fails."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.api.limits import REDIS_RETRY_SECONDS, Counter, Limit
from bot.app import create_app
from bot.runtime import build_runtime
from bot.support import accounts
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.service import STAFF_PASSWORD, make_settings
from tests.helpers.sockets import within

# What the test client answers (its httpx fork's Response).
Response = Any


@pytest.fixture
def limited(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> Iterator[Callable[..., TestClient]]:
    """A service with the limits given (settings names), and the account ``sam``."""
    opened: list[Any] = []

    def start(**limits: str) -> TestClient:
        settings = make_settings(sqlite_url, tmp_path, mini_kb_path, **limits)
        runtime = build_runtime(settings, encoder=FakeReader())
        opened.append(runtime)
        runtime.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam")
        client = TestClient(create_app(settings, runtime))
        opened.append(client.__enter__())
        return client

    yield start
    for thing in reversed(opened):
        if isinstance(thing, TestClient):
            thing.__exit__(None, None, None)
        else:
            thing.close()


def assert_too_many(response: Response, what: str) -> None:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert response.json() == {"detail": f"too many {what}: try again in {seconds} s"}


def start(client: TestClient) -> tuple[str, dict[str, str]]:
    started = client.post("/api/conversations", json={})
    assert started.status_code == 201, started.text
    body = started.json()
    return body["conversation_id"], {"Authorization": f"Bearer {body['customer_token']}"}


def test_conversations_and_messages_beyond_the_limits_are_refused_with_429(
    limited: Callable[..., TestClient],
) -> None:
    client = limited(
        limit_conversation_starts="3/minute",
        limit_messages_per_conversation="2/minute",
        limit_messages_per_ip="5/minute",
    )
    (first, first_auth), (second, second_auth), (third, third_auth) = (
        start(client) for _ in range(3)
    )
    assert_too_many(
        client.post("/api/conversations", json={}), "conversations started from this address"
    )

    def send(conversation: str, auth: dict[str, str]) -> Response:
        url = f"/api/conversations/{conversation}/messages"
        return client.post(url, json={"text": "where is my order"}, headers=auth)

    assert send(first, first_auth).status_code == send(first, first_auth).status_code == 200
    assert_too_many(send(first, first_auth), "messages")  # the conversation's 2 a minute
    # Without the conversation's token nobody uses up its messages: the token is refused.
    assert send(first, second_auth).status_code == 403
    assert send(second, second_auth).status_code == 200
    assert_too_many(send(second, second_auth), "messages")  # the address's 5 a minute

    # Over the socket, a message beyond the limits gets an error frame; the socket stays open.
    with client.websocket_connect(
        f"/api/conversations/{third}/ws",
        subprotocols=["cxagent", "token." + third_auth["Authorization"].removeprefix("Bearer ")],
    ) as socket:
        socket.send_json({"type": "message", "text": "hello", "client_message_id": "c-1"})
        refused = within(socket)
        assert refused["type"] == "error" and refused["client_message_id"] == "c-1"
        assert refused["detail"].startswith("too many messages: try again in")
        assert 1 <= refused["retry_after"] <= 60


def test_the_eleventh_wrong_password_locks_the_account_even_for_the_right_one(
    limited: Callable[..., TestClient],
) -> None:
    client = limited()

    def log_in(username: str, password: str) -> Response:
        return client.post("/api/staff/login", json={"username": username, "password": password})

    for _ in range(10):
        assert log_in("sam", "not the password").status_code == 401
    what = "wrong passwords for this account (logging in to it is refused meanwhile)"
    assert_too_many(log_in("sam", "not the password"), what)
    assert_too_many(log_in(" SAM ", STAFF_PASSWORD), what)  # the right one, during the lockout
    # Unknown accounts lock out alike: the answers tell nobody which accounts exist.
    for _ in range(10):
        assert log_in("nobody", "not the password").status_code == 401
    assert_too_many(log_in("nobody", "not the password"), what)


def test_log_in_attempts_from_one_address_are_limited(
    limited: Callable[..., TestClient],
) -> None:
    client = limited(limit_logins_per_ip="3/minute")
    body = {"username": "sam", "password": STAFF_PASSWORD}
    assert client.post("/api/staff/login", json=body).status_code == 200
    for name in ("ana", "kim"):
        wrong = {"username": name, "password": "not the password"}
        assert client.post("/api/staff/login", json=wrong).status_code == 401
    assert_too_many(client.post("/api/staff/login", json=body), "log-in attempts from this address")


def test_limits_can_be_turned_off_for_load_tests(limited: Callable[..., TestClient]) -> None:
    client = limited(rate_limits="false", limit_conversation_starts="1/minute")
    start(client)
    start(client)


def test_known_and_unknown_users_cost_the_same_password_hash(
    limited: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = limited()
    checked: list[str] = []
    real = accounts.password_matches

    def spy(password: str, stored: str) -> bool:
        checked.append(password)
        return real(password, stored)

    monkeypatch.setattr(accounts, "password_matches", spy)
    for username in ("sam", "zed"):
        response = client.post(
            "/api/staff/login", json={"username": username, "password": f"guess for {username}"}
        )
        assert response.status_code == 401
    assert checked == ["guess for sam", "guess for zed"]


def test_processes_share_counts_through_redis(redis_url: str) -> None:
    limit = Limit.of("calls", "2/minute")
    key = uuid.uuid4().hex  # apart from every other run on this Redis
    one, other = Counter(redis_url), Counter(redis_url)
    assert one.hit(limit, key) is None and other.hit(limit, key) is None
    assert one.hit(limit, key) is not None
    assert Counter().hit(limit, key) is None  # a process without Redis counts alone


def test_a_failing_redis_leaves_the_counting_to_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    counter = Counter("redis://127.0.0.1:1/0", clock=lambda: now[0])  # nothing listens there
    limit = Limit.of("calls", "2/minute")
    assert counter.hit(limit, "k") is None  # no error for the caller
    assert "Redis failed" in caplog.text and "counting in this process" in caplog.text
    caplog.clear()
    assert counter.hit(limit, "k") is None
    assert counter.hit(limit, "k") is not None  # the process's own count holds
    assert caplog.text == ""  # Redis is left alone for a while, not tried on each call
    now[0] += REDIS_RETRY_SECONDS
    counter.hit(limit, "k")
    assert "Redis failed" in caplog.text  # and tried again after it
