"""Hardening: /metrics behind its token, ids too large for the database refused rather than a
500, live sockets that show their token in a subprotocol and close when the staff session ends,
no token in the logs of a whole session served by uvicorn, and the garbage collector
tuned for serving."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from bot.api.deps import MAX_ROW_ID
from bot.app import create_app
from bot.cli.serve import uvicorn_logging
from bot.runtime import Runtime
from tests.helpers.service import escalated_conversation, log_in
from tests.helpers.sockets import within


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    return desk_client


def protocols(token: str) -> list[str]:
    return ["cxagent", f"token.{token}"]


def bearer(auth: dict[str, str]) -> str:
    return auth["Authorization"].removeprefix("Bearer ")


def test_metrics_answer_only_their_token(client: TestClient, desk: Runtime) -> None:
    assert client.get("/metrics").status_code == 404  # no token set: no metrics
    settings = desk.settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    with TestClient(create_app(settings, desk)) as scraping:
        assert scraping.get("/metrics").status_code == 401
        wrong = scraping.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert wrong.status_code == 401
        right = scraping.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "cxagent_messages_total" in right.text


def test_ids_beyond_the_databases_are_refused_not_a_server_error(client: TestClient) -> None:
    admin = log_in(client, "ana")
    huge, biggest = 99999999999999999999999, MAX_ROW_ID
    intent = {"intent": "return_policy"}
    for message_id in (huge, 2**63, biggest + 1, 0):
        path = f"/api/staff/messages/{message_id}/intent"
        assert client.put(path, json=intent, headers=admin).status_code == 422, path
    account = client.patch(f"/api/staff/accounts/{huge}", json={"active": True}, headers=admin)
    assert account.status_code == 422
    # The largest id there can be is looked for, and not found.
    found = client.put(f"/api/staff/messages/{biggest}/intent", json=intent, headers=admin)
    assert found.status_code == 404


def test_sockets_take_the_token_in_a_subprotocol(client: TestClient) -> None:
    conversation, customer = escalated_conversation(client)
    url = f"/api/conversations/{conversation}/ws"
    with client.websocket_connect(url, subprotocols=protocols(bearer(customer))) as socket:
        assert socket.accepted_subprotocol == "cxagent"
        socket.send_json({"type": "message", "text": "hello?", "client_message_id": "c-1"})
        assert within(socket)["type"] == "ack"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(url, subprotocols=protocols("not-the-token")) as socket,
    ):
        within(socket)
    assert refused.value.code == 4403
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url) as socket:
        within(socket)
    assert refused.value.code == 4403


def test_a_staff_socket_closes_when_its_session_ends(client: TestClient) -> None:
    agent = log_in(client, "sam")
    with client.websocket_connect("/api/staff/ws", subprotocols=protocols(bearer(agent))) as ws:
        assert ws.accepted_subprotocol == "cxagent"
        assert client.post("/api/staff/logout", headers=agent).status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            within(ws)
        assert closed.value.code == 4401

    # A deactivated account's sockets close too, and only that account's.
    admin, agent = log_in(client, "ana"), log_in(client, "sam")
    sam = client.get("/api/staff/me", headers=agent).json()["id"]
    with (
        client.websocket_connect("/api/staff/ws", subprotocols=protocols(bearer(agent))) as ws,
        client.websocket_connect("/api/staff/ws", subprotocols=protocols(bearer(admin))) as kept,
    ):
        client.patch(f"/api/staff/accounts/{sam}", json={"active": False}, headers=admin)
        with pytest.raises(WebSocketDisconnect) as closed:
            within(ws)
        assert closed.value.code == 4401
        escalated_conversation(client)
        assert within(kept)["type"] == "conversation"  # the admin's socket stays open


@contextmanager
def served_with_logs(runtime: Runtime, access_log: bool | None = None) -> Iterator[str]:
    """The app served by uvicorn with `cxagent serve`'s logging options, at level info, with
    the access log as asked (None: as the runtime's settings have it)."""
    chosen = runtime.settings.access_log if access_log is None else access_log
    settings = runtime.settings.model_copy(update={"log_level": "info", "access_log": chosen})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime.settings, runtime),
            host="127.0.0.1",
            port=0,
            **uvicorn_logging(settings),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_no_token_reaches_the_logs(desk: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with served_with_logs(desk, access_log=True) as address:
        # uvicorn's loggers do not pass their lines on to the root logger: hear them directly.
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addHandler(caplog.handler)
        try:
            tokens = a_whole_session(f"http://{address}", f"ws://{address}")
        finally:
            for name in ("uvicorn.access", "uvicorn.error"):
                logging.getLogger(name).removeHandler(caplog.handler)
    # Everything the service logged (the test's own clients log their requests, tokens too).
    lines = [
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("websockets.client", "httpx", "httpcore"))
    ]
    assert any("POST /api/staff/login" in line for line in lines)  # the access log was heard
    assert any("WebSocket /api/staff/ws" in line for line in lines)
    assert any("token=***" in line for line in lines)  # the old client's address, masked
    for token in tokens:
        assert not [line for line in lines if token in line]


def test_the_access_log_is_off_unless_asked_for(
    desk: Runtime, capfd: pytest.CaptureFixture[str]
) -> None:
    def logged_a_request(access_log: bool | None) -> bool:
        with served_with_logs(desk, access_log) as address:
            assert httpx.get(f"http://{address}/health", timeout=10).status_code == 200
        written = capfd.readouterr()
        assert "Application startup complete" in written.err  # the server's own lines come
        return '"GET /health HTTP/1.1" 200' in written.out + written.err

    assert not logged_a_request(None)  # the settings' default
    assert logged_a_request(True)


def a_whole_session(http: str, ws: str) -> list[str]:
    """Start a conversation and chat over HTTP and the socket (also as an old client, with the
    token in the address); a person logs in, opens the console's socket, logs out. The
    tokens."""
    with httpx.Client(base_url=http, timeout=10) as api:
        started = api.post("/api/conversations", json={}).json()
        customer, conversation = started["customer_token"], started["conversation_id"]
        auth = {"Authorization": f"Bearer {customer}"}
        api.post(f"/api/conversations/{conversation}/messages", json={"text": "hi"}, headers=auth)
        chat = f"{ws}/api/conversations/{conversation}/ws"
        offered = [Subprotocol(name) for name in protocols(customer)]
        with connect(chat, subprotocols=offered) as socket:
            frame = {"type": "message", "text": "where is my order", "client_message_id": "c-1"}
            socket.send(json.dumps(frame))
            assert json.loads(socket.recv(timeout=10))["type"] == "ack"
        with connect(f"{chat}?token={customer}") as socket:
            socket.send(json.dumps({**frame, "client_message_id": "c-2"}))
            assert json.loads(socket.recv(timeout=10))["type"] == "ack"
        login = {"username": "sam", "password": "correct horse battery"}
        staff = api.post("/api/staff/login", json=login).json()["token"]
        offered = [Subprotocol(name) for name in protocols(staff)]
        with connect(f"{ws}/api/staff/ws", subprotocols=offered) as console:
            api.post("/api/staff/logout", headers={"Authorization": f"Bearer {staff}"})
            with pytest.raises(ConnectionClosed) as closed:
                console.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    return [customer, staff]


def test_the_service_tunes_the_garbage_collector_as_it_starts(runtime: Runtime) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700)
    try:
        with TestClient(create_app(runtime.settings, runtime)):
            # What start-up built is left out of full passes, and young collections are rare.
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == 10_000
    finally:
        gc.set_threshold(*before)
