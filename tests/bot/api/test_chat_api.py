"""The chat loop over HTTP and WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from starlette.websockets import WebSocketDisconnect

from bot.conversation.turn import NOT_SURE_REPLY
from bot.runtime import Runtime
from bot.storage.models import Customer, Message
from tests.helpers.identity import start_body
from tests.helpers.service import database_at
from tests.helpers.sockets import TimedSocket


def start(client: TestClient, **customer: object) -> tuple[str, dict[str, str]]:
    response = client.post("/api/conversations", json=start_body(customer))
    assert response.status_code == 201, response.text
    body = response.json()
    return body["conversation_id"], {"Authorization": f"Bearer {body['customer_token']}"}


def count_messages(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_question_gets_the_matching_answer_with_slots_filled(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client, external_id="c-1", name="Ada")
    response = client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "where is my order BC-123456?"},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    reply = response.json()["reply"]
    assert reply["entry_id"] == "track_order.where"
    assert reply["text"] == "Hi Ada, order BC-123456 is on its way."
    assert reply["decision"] == "answer"
    assert 0.3 <= reply["score"] <= 1.0001

    # The order number stays known for later turns of the same conversation.
    later = client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "track my parcel"},
        headers=auth,
    ).json()["reply"]
    assert later["text"] == "Hi Ada, order BC-123456 is on its way."


def test_unknown_slot_uses_the_fallback_wording(client: TestClient) -> None:
    conversation, auth = start(client)
    reply = client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "Where is my order?"},
        headers=auth,
    ).json()["reply"]
    assert reply["text"] == "Your order is on its way; see My Account > Orders."


def test_everything_is_stored_with_what_answered_and_personal_data_redacted(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client, external_id="c-2", name="Bo")
    client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "I forgot my password, mail bo@example.com or call +44 7700 900123"},
        headers=auth,
    )
    reply = client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "reset my password please, card 4111 1111 1111 1111"},
        headers=auth,
    ).json()["reply"]
    # The customer is shown their own address; the log keeps it redacted.
    assert reply["text"] == "We sent a reset link to bo@example.com."
    with runtime.sessions() as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        customer = session.scalars(select(Customer).where(Customer.external_id == "c-2")).one()
    assert [m.role for m in messages] == ["customer", "bot", "customer", "bot"]
    stored = " ".join(m.text for m in messages)
    assert "bo@example.com" not in stored and "7700" not in stored and "4111" not in stored
    assert "[email]" in messages[0].text and "[phone]" in messages[0].text
    assert "[card]" in messages[2].text
    assert messages[3].text == "We sent a reset link to [email]."
    for bot in messages[1::2]:
        assert bot.entry_id == "account.password"
        assert bot.score is not None and bot.latency_ms is not None and bot.latency_ms > 0
        assert bot.reply_to_id is not None
    assert all(m.conversation_id == conversation and m.customer_id == customer.id for m in messages)
    assert customer.message_count == 2 and customer.conversation_count == 1
    assert customer.email == "bo@example.com"
    assert customer.first_seen_at <= customer.last_seen_at


def test_returning_customer_keeps_one_profile(client: TestClient, runtime: Runtime) -> None:
    start(client, external_id="c-3", name="Cy")
    conversation, auth = start(client, external_id="c-3")
    client.post(f"/api/conversations/{conversation}/messages", json={"text": "hello"}, headers=auth)
    with runtime.sessions() as session:
        customers = session.scalars(select(Customer)).all()
    assert len(customers) == 1
    assert customers[0].conversation_count == 2 and customers[0].name == "Cy"


def test_transcript_lists_the_conversation_in_order(client: TestClient) -> None:
    conversation, auth = start(client)
    for text in ["can I return an item?", "do you take credit cards"]:
        client.post(
            f"/api/conversations/{conversation}/messages", json={"text": text}, headers=auth
        )
    transcript = client.get(f"/api/conversations/{conversation}/messages", headers=auth).json()
    assert transcript["conversation_id"] == conversation and transcript["status"] == "bot"
    assert [m["role"] for m in transcript["messages"]] == ["customer", "bot", "customer", "bot"]
    assert [m["entry_id"] for m in transcript["messages"][1::2]] == [
        "returns.policy",
        "payment.methods",
    ]


def test_below_the_threshold_the_bot_offers_a_person(client: TestClient) -> None:
    conversation, auth = start(client)
    reply = client.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "zxqv blorft quantum giraffe"},
        headers=auth,
    ).json()["reply"]
    assert reply["decision"] == "not_sure"
    assert reply["text"] == NOT_SURE_REPLY


def test_a_resent_message_is_answered_once(client: TestClient, runtime: Runtime) -> None:
    conversation, auth = start(client)
    url = f"/api/conversations/{conversation}/messages"
    first = client.post(
        url, json={"text": "track my parcel", "client_message_id": "m1"}, headers=auth
    ).json()
    again = client.post(
        url, json={"text": "track my parcel", "client_message_id": "m1"}, headers=auth
    ).json()
    assert again["message"]["id"] == first["message"]["id"]
    assert again["reply"]["id"] == first["reply"]["id"]
    assert count_messages(runtime) == 2


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"text": ""}, 422, "empty"),
        ({"text": "   \n "}, 422, "empty"),
        ({"text": "x" * 2001}, 422, "2001 characters"),
        ({"txt": "hello"}, 422, "text"),
        ({"text": 5}, 422, "string"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(
    client: TestClient, runtime: Runtime, body: dict[str, object], status: int, needle: str
) -> None:
    conversation, auth = start(client)
    response = client.post(f"/api/conversations/{conversation}/messages", json=body, headers=auth)
    assert response.status_code == status
    assert needle in response.text
    assert count_messages(runtime) == 0


def test_malformed_json_is_refused(client: TestClient, runtime: Runtime) -> None:
    conversation, auth = start(client)
    response = client.post(
        f"/api/conversations/{conversation}/messages",
        content=b'{"text": "hi"',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.text
    assert count_messages(runtime) == 0


def test_unknown_conversation_and_wrong_or_missing_token(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client)
    _, other_auth = start(client)
    url = f"/api/conversations/{conversation}/messages"
    missing = client.post("/api/conversations/nope/messages", json={"text": "hi"}, headers=auth)
    assert missing.status_code == 404 and "does not exist" in missing.json()["detail"]
    wrong = client.post(url, json={"text": "hi"}, headers=other_auth)
    assert wrong.status_code == 403 and "token" in wrong.json()["detail"]
    assert client.get(url, headers=other_auth).status_code == 403
    absent = client.post(url, json={"text": "hi"})
    assert absent.status_code == 401 and "Bearer" in absent.json()["detail"]
    assert count_messages(runtime) == 0


def test_websocket_chat_acknowledges_and_replies(client: TestClient, runtime: Runtime) -> None:
    conversation, auth = start(client, name="Di")
    token = auth["Authorization"].removeprefix("Bearer ")
    with TimedSocket(
        client.websocket_connect(f"/api/conversations/{conversation}/ws?token={token}")
    ) as ws:
        ws.send_json(
            {"type": "message", "text": "where is my order 654321", "client_message_id": "w1"}
        )
        ack = ws.receive_json()
        reply = ws.receive_json()
        assert ack["type"] == "ack" and ack["message"]["client_message_id"] == "w1"
        assert (
            reply["type"] == "reply"
            and reply["message"]["text"] == "Hi Di, order BC-654321 is on its way."
        )
        ws.send_text("{not json")
        assert "malformed JSON" in ws.receive_json()["detail"]
        ws.send_json({"type": "message", "text": ""})
        assert ws.receive_json() == {
            "type": "error",
            "detail": "the message is empty",
            "client_message_id": None,
        }
        # A resend after a dropped connection gets the same stored turn back.
        ws.send_json(
            {"type": "message", "text": "where is my order 654321", "client_message_id": "w1"}
        )
        assert ws.receive_json()["message"]["id"] == ack["message"]["id"]
        ws.receive_json()
    assert count_messages(runtime) == 2


def test_websocket_refuses_a_wrong_token(client: TestClient) -> None:
    conversation, _ = start(client)
    url = f"/api/conversations/{conversation}/ws?token=wrong"
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        TimedSocket(client.websocket_connect(url)) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4403


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["knowledge_base_entries"] == 4
    assert health["index_rows"] == 4
    assert (
        "/api/conversations/{conversation_id}/messages"
        in client.get("/openapi.json").json()["paths"]
    )
    assert client.get("/docs").status_code == 200


def test_a_database_that_goes_down_gives_503_and_nothing_half_stored(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client)
    # Point the service at a server that refuses connections.
    with database_at(runtime, create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")):
        response = client.post(
            f"/api/conversations/{conversation}/messages", json={"text": "hi"}, headers=auth
        )
        assert response.status_code == 503
        assert "nothing was stored" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
        health = client.get("/health")
        assert health.status_code == 503 and int(health.headers["Retry-After"]) > 0
    assert count_messages(runtime) == 0


def test_every_database_connection_busy_gives_503_with_retry_after(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client)
    # A pool of one connection, which the test holds: the request finds none free.
    one = create_engine(
        runtime.engine.url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
        connect_args={"check_same_thread": False} if runtime.engine.name == "sqlite" else {},
    )
    try:
        with database_at(runtime, one), one.connect():
            response = client.post(
                f"/api/conversations/{conversation}/messages", json={"text": "hi"}, headers=auth
            )
    finally:
        one.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "detail": "every database connection is in use; nothing was stored, please retry"
    }
    assert int(response.headers["Retry-After"]) > 0
    assert count_messages(runtime) == 0


@pytest.mark.parametrize("answers", [{"nps": False}, {"csat": True}, {"ces": "3"}])
def test_survey_answers_are_numbers_not_booleans_or_texts(
    client: TestClient, answers: dict[str, object]
) -> None:
    # JSON's true is no score, nor is "3": the schema says integer, and the survey stores none.
    conversation, auth = start(client)
    url = f"/api/conversations/{conversation}/survey"
    response = client.post(url, json=answers, headers=auth)
    assert response.status_code == 422, response.text
    assert client.post(url, json={"csat": 4}, headers=auth).status_code == 204


def test_a_nul_character_is_stored_as_a_replacement_not_a_server_error(
    client: TestClient, runtime: Runtime
) -> None:
    # PostgreSQL cannot store NUL in text: the message, the name, the path and the query each
    # once gave a 500 there. NUL becomes U+FFFD, so the text keeps its length.
    started = client.post("/api/conversations", json={"customer": {"name": "Ada\x00"}})
    assert started.status_code == 201, started.text
    conversation = started.json()["conversation_id"]
    auth = {"Authorization": f"Bearer {started.json()['customer_token']}"}
    url = f"/api/conversations/{conversation}/messages"
    sent = client.post(url, json={"text": "where is my order\x00"}, headers=auth)
    assert sent.status_code == 200, sent.text
    assert sent.json()["message"]["text"] == "where is my order\ufffd"
    with runtime.sessions() as session:
        customer = session.get(Customer, started.json()["customer_id"])
        assert customer is not None and customer.name == "Ada\ufffd"
    unknown = client.get("/api/conversations/abc%00/messages", headers=auth)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "conversation 'abc\ufffd' does not exist"}
