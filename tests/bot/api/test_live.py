"""Live updates over WebSockets: what a person does reaches the customer's socket as it happens,
the consoles hear every change to the queue, and a socket dropped mid-message loses nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from bot.runtime import Runtime
from bot.storage.models import Conversation, Message
from tests.helpers.service import escalated_conversation, log_in
from tests.helpers.sockets import TimedSocket


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    """This module's client talks to the staff desk (tests/bot/conftest.py)."""
    return desk_client


def customer_socket(client: TestClient, conversation_id: str, auth: dict[str, str]) -> TimedSocket:
    token = auth["Authorization"].removeprefix("Bearer ")
    return TimedSocket(
        client.websocket_connect(f"/api/conversations/{conversation_id}/ws?token={token}")
    )


def test_a_person_joining_replying_and_handing_back_reaches_the_customer_live(
    client: TestClient,
) -> None:
    conversation_id, customer = escalated_conversation(client)
    agent = log_in(client, "sam")
    staff_url = f"/api/staff/conversations/{conversation_id}"
    with customer_socket(client, conversation_id, customer) as socket:
        assert client.post(f"{staff_url}/take", headers=agent).status_code == 204
        assert socket.receive_json() == {
            "type": "status",
            "status": "with_agent",
            "agent": "Sam Support",
        }
        assert client.post(f"{staff_url}/typing", headers=agent).status_code == 204
        assert socket.receive_json() == {"type": "typing", "who": "agent", "name": "Sam Support"}

        sent = client.post(f"{staff_url}/messages", json={"text": "Hi, Sam here."}, headers=agent)
        pushed = socket.receive_json()
        assert pushed["type"] == "message"
        assert pushed["message"]["id"] == sent.json()["id"]
        assert pushed["message"]["role"] == "agent"
        assert pushed["message"]["text"] == "Hi, Sam here."
        assert pushed["message"]["author"] == "Sam Support"
        assert "intent" not in pushed["message"]  # the customer never sees the model's reading

        # While a person has it, the customer's own messages are acknowledged, not answered.
        socket.send_json({"type": "message", "text": "thanks Sam", "client_message_id": "c-1"})
        assert socket.receive_json()["type"] == "ack"
        transcript = client.get(f"/api/conversations/{conversation_id}/messages", headers=customer)
        assert transcript.json()["agent"] == "Sam Support"
        assert [m["author"] for m in transcript.json()["messages"] if m["role"] == "agent"] == [
            "Sam Support"
        ]

        assert client.post(f"{staff_url}/hand-back", headers=agent).status_code == 204
        assert socket.receive_json() == {"type": "status", "status": "bot", "agent": None}
        socket.send_json(
            {"type": "message", "text": "where is my parcel", "client_message_id": "c-2"}
        )
        assert socket.receive_json()["type"] == "ack"
        assert socket.receive_json()["type"] == "reply"  # the bot answers again
    assert (
        client.get(f"/api/conversations/{conversation_id}/messages", headers=customer).json()[
            "agent"
        ]
        is None
    )


def test_the_customer_socket_hears_its_own_escalation(client: TestClient) -> None:
    started = client.post("/api/conversations", json={}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    with customer_socket(client, started["conversation_id"], auth) as socket:
        socket.send_json({"type": "message", "text": "I want a real person"})
        frames = [socket.receive_json() for _ in range(3)]
    # The status is relayed as the turn commits, so it may come before the acknowledgement.
    assert sorted(frame["type"] for frame in frames) == ["ack", "reply", "status"]
    status = next(frame for frame in frames if frame["type"] == "status")
    assert status == {"type": "status", "status": "waiting", "agent": None}


def test_the_console_hears_every_change_to_a_conversation_in_the_queue(
    client: TestClient,
) -> None:
    agent = log_in(client, "sam")
    token = agent["Authorization"].removeprefix("Bearer ")
    with TimedSocket(client.websocket_connect(f"/api/staff/ws?token={token}")) as console:
        conversation_id, customer = escalated_conversation(client)
        staff_url = f"/api/staff/conversations/{conversation_id}"
        client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "hello? anyone there?"},
            headers=customer,
        )
        client.post(f"{staff_url}/take", headers=agent)
        client.post(f"{staff_url}/messages", json={"text": "Here!"}, headers=agent)
        client.post(f"{staff_url}/close", headers=agent)
        client.post(
            f"/api/conversations/{conversation_id}/survey", json={"csat": 5}, headers=customer
        )
        changes = [console.receive_json() for _ in range(6)]
    assert {frame["conversation_id"] for frame in changes} == {conversation_id}
    assert [frame["change"] for frame in changes] == [
        "escalated",
        "message",
        "taken",
        "message",
        "closed",
        "survey",
    ]


def test_the_console_socket_needs_a_staff_token(client: TestClient) -> None:
    started = client.post("/api/conversations", json={}).json()
    for token in ("not-a-token", started["customer_token"]):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            TimedSocket(client.websocket_connect(f"/api/staff/ws?token={token}")) as socket,
        ):
            socket.receive_json()
        assert closed.value.code == 4401


def test_a_message_resent_after_a_dropped_socket_is_stored_and_answered_once(
    client: TestClient, desk: Runtime
) -> None:
    started = client.post("/api/conversations", json={}).json()
    conversation_id = started["conversation_id"]
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    frame = {"type": "message", "text": "where is my parcel", "client_message_id": "m-1"}
    # The connection drops before the client reads the acknowledgement.
    with customer_socket(client, conversation_id, auth) as socket:
        socket.send_json(frame)
    with customer_socket(client, conversation_id, auth) as socket:
        socket.send_json(frame)
        ack, reply = socket.receive_json(), socket.receive_json()
    with desk.sessions() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id)
        )
    assert stored == 2  # one customer message, one reply
    transcript = client.get(f"/api/conversations/{conversation_id}/messages", headers=auth).json()
    assert [m["id"] for m in transcript["messages"]] == [
        ack["message"]["id"],
        reply["message"]["id"],
    ]
    assert ack["message"]["client_message_id"] == "m-1"


def test_intents_lists_what_a_correction_may_name(client: TestClient) -> None:
    agent = log_in(client, "sam")
    intents = client.get("/api/staff/intents", headers=agent).json()
    assert intents == sorted(intents) and "track_order" in intents
    assert client.get("/api/staff/intents").status_code == 401


def test_the_console_hears_the_customer_typing_only_when_people_are_in_it(
    client: TestClient,
) -> None:
    agent = log_in(client, "sam")
    token = agent["Authorization"].removeprefix("Bearer ")
    started = client.post("/api/conversations", json={}).json()
    conversation_id = started["conversation_id"]
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    with (
        TimedSocket(client.websocket_connect(f"/api/staff/ws?token={token}")) as console,
        customer_socket(client, conversation_id, auth) as customer,
    ):
        customer.send_json({"type": "typing"})  # the bot has it: nobody to tell
        customer.send_json({"type": "message", "text": "I want a real person"})
        assert console.receive_json()["change"] == "escalated"
        customer.send_json({"type": "typing"})
        customer.send_json({"type": "typing"})  # too soon after the first: not passed on
        customer.send_json({"type": "message", "text": "hello?"})
        assert console.receive_json() == {
            "type": "typing",
            "conversation_id": conversation_id,
            "who": "customer",
        }
        assert console.receive_json()["change"] == "message"


def test_a_customer_who_ends_the_chat_leaves_the_queue(client: TestClient, desk: Runtime) -> None:
    agent = log_in(client, "sam")
    token = agent["Authorization"].removeprefix("Bearer ")
    conversation_id, customer = escalated_conversation(client)
    end = f"/api/conversations/{conversation_id}/end"
    assert client.post(end, headers={"Authorization": "Bearer wrong"}).status_code == 403
    with (
        TimedSocket(client.websocket_connect(f"/api/staff/ws?token={token}")) as console,
        customer_socket(client, conversation_id, customer) as socket,
    ):
        assert client.post(end, headers=customer).status_code == 204
        assert console.receive_json()["change"] == "closed"
        assert socket.receive_json() == {"type": "status", "status": "closed", "agent": None}
    assert client.post(end, headers=customer).status_code == 204  # again: nothing changes
    assert client.get("/api/staff/queue", headers=agent).json() == []
    with desk.sessions() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None and row.status == "closed" and row.closed_at is not None
        assert (row.queue, row.waiting_since, row.assigned_staff_id) == (None, None, None)
    # Writing again opens it with the bot.
    reply = client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "where is my parcel"},
        headers=customer,
    ).json()["reply"]
    assert reply is not None
