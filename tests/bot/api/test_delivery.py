"""Delivery off the happy path: no message lost or stored twice when the customer writes after
ending the chat, resends while people have it, sends the same message twice at once, or when the
database fails under a socket."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from bot.api.errors import RETRY_AFTER_SECONDS
from bot.api.live import FRAME_FAILED
from bot.conversation.identity import CustomerIdentity
from bot.conversation.service import ChatService, ConversationFacts, StartedConversation, Turn
from bot.runtime import Runtime
from bot.storage.models import Conversation, Message
from tests.helpers.service import database_at, escalated_conversation, log_in
from tests.helpers.sockets import TimedSocket

# A server that refuses connections: the database is down.
REFUSING_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def start(client: TestClient) -> tuple[str, dict[str, str]]:
    response = client.post("/api/conversations", json={"customer": {"name": "Ada"}})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {"Authorization": f"Bearer {body['customer_token']}"}


def stored(runtime: Runtime, conversation_id: str) -> list[Message]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            )
        )


def status_of(runtime: Runtime, conversation_id: str) -> str:
    with runtime.sessions() as session:
        return str(session.get_one(Conversation, conversation_id).status)


def test_asking_for_a_person_after_ending_the_chat_reopens_it_and_escalates(
    reader_client: TestClient, reader_runtime: Runtime
) -> None:
    conversation_id, auth = start(reader_client)
    url = f"/api/conversations/{conversation_id}/messages"
    reader_client.post(url, json={"text": "where is my parcel"}, headers=auth)
    ended = reader_client.post(f"/api/conversations/{conversation_id}/end", headers=auth)
    assert ended.status_code == 204
    assert status_of(reader_runtime, conversation_id) == "closed"

    response = reader_client.post(
        url, json={"text": "I want a real person", "client_message_id": "m-2"}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["reply"]["decision"] == "handoff"
    assert status_of(reader_runtime, conversation_id) == "waiting"
    assert [m.client_message_id for m in stored(reader_runtime, conversation_id)][-2:] == [
        "m-2",
        None,
    ]


def customer_socket(client: TestClient, conversation_id: str, auth: dict[str, str]) -> TimedSocket:
    token = auth["Authorization"].removeprefix("Bearer ")
    return TimedSocket(
        client.websocket_connect(f"/api/conversations/{conversation_id}/ws?token={token}")
    )


def test_a_message_resent_while_a_person_is_waited_for_is_stored_once(
    reader_client: TestClient, reader_runtime: Runtime
) -> None:
    conversation_id, auth = start(reader_client)
    url = f"/api/conversations/{conversation_id}/messages"
    reader_client.post(url, json={"text": "I want a real person"}, headers=auth)
    assert status_of(reader_runtime, conversation_id) == "waiting"
    body = {"text": "hello? anyone there?", "client_message_id": "m-2"}

    first = reader_client.post(url, json=body, headers=auth)
    again = reader_client.post(url, json=body, headers=auth)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["reply"] is None
    with customer_socket(reader_client, conversation_id, auth) as socket:
        socket.send_json({"type": "message", **body})
        ack = socket.receive_json()
        assert ack == {"type": "ack", "message": first.json()["message"]}
        # The socket is still open: the next message goes through.
        socket.send_json({"type": "message", "text": "still there?", "client_message_id": "m-3"})
        assert socket.receive_json()["message"]["client_message_id"] == "m-3"
    ids = [m.client_message_id for m in stored(reader_runtime, conversation_id)]
    assert ids.count("m-2") == 1 and ids.count("m-3") == 1


def test_the_same_message_sent_twice_at_once_is_stored_once_and_both_get_it(
    reader_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one client_message_id, each in its own thread, both look for an
    earlier turn before either stores anything (a barrier holds them there); one insert then
    hits the unique constraint, and that request answers with the other's turn."""
    chat = reader_runtime.chat
    look = ChatService._authorised  # which also looks for the earlier turn
    both_looked = threading.Barrier(2, timeout=10)
    racing: set[int] = set()

    def look_then_wait(self: ChatService, *args: Any) -> tuple[ConversationFacts, int | None]:
        found = look(self, *args)
        if threading.get_ident() not in racing:
            racing.add(threading.get_ident())
            both_looked.wait()
        return found

    monkeypatch.setattr(ChatService, "_authorised", look_then_wait)
    for text in ("where is my parcel", "I want a real person", "is anyone there?"):
        started = chat.start_conversation(CustomerIdentity())
        racing.clear()
        turns, errors = at_once(2, chat.post_message, started, text, "m-1")
        assert errors == []
        assert len(turns) == 2 and turns[0] == turns[1]
        ids = [m.client_message_id for m in stored(reader_runtime, started.conversation_id)]
        assert ids.count("m-1") == 1


def at_once(
    times: int, send: Callable[..., Turn], started: StartedConversation, *args: Any
) -> tuple[list[Turn], list[BaseException]]:
    """``send(conversation_id, token, *args)`` in ``times`` threads at once: the turns and the
    errors they gave."""
    turns: list[Turn] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            turns.append(send(started.conversation_id, started.customer_token, *args))
        except BaseException as error:  # handed to the caller
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return turns, errors


UNAVAILABLE = "the database is unavailable; nothing was stored, please retry"


def test_a_database_failure_under_a_socket_gives_an_error_frame_and_the_socket_stays_open(
    reader_client: TestClient, reader_runtime: Runtime
) -> None:
    conversation_id, auth = start(reader_client)
    frame = {"type": "message", "text": "where is my parcel", "client_message_id": "m-1"}
    with customer_socket(reader_client, conversation_id, auth) as socket:
        # The service now reaches a server that refuses connections.
        with database_at(reader_runtime, create_engine(REFUSING_DATABASE)):
            socket.send_json(frame)
            failed = socket.receive_json()
            socket.send_json({"type": "typing"})
            typing_failed = socket.receive_json()
        assert failed == {
            "type": "error",
            "detail": UNAVAILABLE,
            "client_message_id": "m-1",
            "retry_after": RETRY_AFTER_SECONDS,
        }
        assert typing_failed == {
            "type": "error",
            "detail": UNAVAILABLE,
            "client_message_id": None,
            "retry_after": RETRY_AFTER_SECONDS,
        }
        socket.send_json(frame)  # the client retries on the same socket
        assert socket.receive_json()["type"] == "ack"
        assert socket.receive_json()["type"] == "reply"
    assert [m.client_message_id for m in stored(reader_runtime, conversation_id)] == ["m-1", None]


BINARY = "binary frames are not read here: send JSON as a text frame"
DEEP = "[" * 100_000 + "]" * 100_000


def test_binary_and_deeply_nested_frames_get_an_error_frame_on_the_customer_socket(
    reader_client: TestClient,
) -> None:
    conversation_id, auth = start(reader_client)
    with customer_socket(reader_client, conversation_id, auth) as socket:
        socket.session.send_bytes(b'{"type": "message", "text": "hi"}')
        assert socket.receive_json() == {"type": "error", "detail": BINARY}
        for frame in (DEEP, '{"type": "message", "text": ' + DEEP + "}"):
            socket.send_text(frame)
            reply = socket.receive_json()
            assert reply["type"] == "error" and reply["detail"].startswith("malformed JSON")
        socket.send_json({"type": "message", "text": "where is my parcel"})
        assert socket.receive_json()["type"] == "ack"  # still open and answering


def test_a_frame_the_service_fails_on_gets_an_error_frame_and_the_socket_stays_open(
    reader_client: TestClient, reader_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id, auth = start(reader_client)

    def broken(_: str) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(reader_runtime.chat, "customer_typing", broken)
    with customer_socket(reader_client, conversation_id, auth) as socket:
        socket.send_json({"type": "typing"})
        assert socket.receive_json() == {"type": "error", "detail": FRAME_FAILED}
        socket.send_json({"type": "message", "text": "where is my parcel"})
        assert socket.receive_json()["type"] == "ack"


def test_frames_sent_to_the_staff_socket_get_an_error_frame_and_it_stays_open(
    reader_client: TestClient,
) -> None:
    token = log_in(reader_client, "sam")["Authorization"].removeprefix("Bearer ")
    with TimedSocket(reader_client.websocket_connect(f"/api/staff/ws?token={token}")) as console:
        console.session.send_bytes(b"\x00\x01")
        assert console.receive_json() == {"type": "error", "detail": BINARY}
        console.send_text(DEEP)
        assert console.receive_json()["type"] == "error"
        escalated_conversation(reader_client)
        assert console.receive_json()["change"] == "escalated"  # still hearing the queue
