"""The demo as customers really write: typos, two questions in one message, follow-ups and angry
messages about the topic in hand, scripted over HTTP against the shipped knowledge base and the
demo NLU bundle (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Message

pytestmark = pytest.mark.real_model

REFUSAL = "not something I can help with"


@pytest.fixture
def demo(served_encoder, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/demo.db", index_dir=tmp_path / "index", actions=None
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    with TestClient(create_app(settings, runtime)) as client:
        yield client, runtime
    runtime.close()


class Chat:
    """One customer's conversation: ``says`` returns the bot's reply."""

    def __init__(self, client: TestClient) -> None:
        started = client.post("/api/conversations", json={}).json()
        self.client = client
        self.url = f"/api/conversations/{started['conversation_id']}/messages"
        self.auth = {"Authorization": f"Bearer {started['customer_token']}"}

    def says(self, text: str) -> dict[str, Any]:
        response = self.client.post(self.url, json={"text": text}, headers=self.auth)
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()["reply"]
        return reply


def read_as(runtime: Runtime) -> list[dict[str, Any]]:
    """The questions the model read in the last customer message."""
    with runtime.sessions() as session:
        message = session.scalars(
            select(Message).where(Message.role == "customer").order_by(Message.id.desc())
        ).first()
        assert message is not None and message.questions is not None
        return message.questions


def intent_of(entry_id: str | None) -> str | None:
    return entry_id.split(".", 1)[0] if entry_id else None


def test_two_questions_in_one_message_get_two_answers(demo: tuple[TestClient, Runtime]) -> None:
    client, runtime = demo
    reply = Chat(client).says("how long does delivery take, and can I pay with PayPal?")
    questions = read_as(runtime)
    assert [q["text"] for q in questions] == [
        "how long does delivery take",
        "can I pay with PayPal?",
    ]
    assert intent_of(questions[0]["entry_id"]) in {"delivery_time", "delivery_cost"}
    assert intent_of(questions[1]["entry_id"]) == "payment_methods"
    assert "PayPal" in reply["text"] and "About “can I pay with PayPal?”" in reply["text"]


def test_a_misspelt_question_is_answered_and_the_console_sees_the_corrections(
    demo: tuple[TestClient, Runtime],
) -> None:
    client, runtime = demo
    reply = Chat(client).says("wher is my oder")
    assert intent_of(reply["entry_id"]) == "track_order" or reply["decision"] == "form"
    (question,) = read_as(runtime)
    assert question["corrections"] == {"wher": "where", "oder": "order"}
    assert question["intent"] == "track_order"


def test_scotland_gets_uk_delivery_and_a_follow_up_stays_on_delivery(
    demo: tuple[TestClient, Runtime],
) -> None:
    client, runtime = demo
    chat = Chat(client)
    scotland = chat.says("how long is delivery to Scotland?")
    assert scotland["entry_id"] == "delivery_time.scotland_wales"
    chat = Chat(client)
    first = chat.says("how long does delivery take?")
    assert intent_of(first["entry_id"]) == "delivery_time"
    follow_up = chat.says("and to the Highlands?")
    assert follow_up["entry_id"] == "delivery_time.highlands_islands_ni", read_as(runtime)


def test_an_angry_message_about_the_topic_in_hand_is_not_refused(
    demo: tuple[TestClient, Runtime],
) -> None:
    client, runtime = demo
    chat = Chat(client)
    refund = chat.says("where is my refund")
    assert intent_of(refund["entry_id"]) in {"refund_status", "refund_method"}
    angry = chat.says("this is ridiculous, I've waited 3 weeks")
    assert REFUSAL not in angry["text"]
    assert angry["decision"] not in {"out_of_scope", "not_sure"}, read_as(runtime)


def test_everyday_returns_wording_is_not_refused(demo: tuple[TestClient, Runtime]) -> None:
    client, _ = demo
    reply = Chat(client).says(
        "I'd like to send back some headphones, they're not really what I expected"
    )
    assert REFUSAL not in reply["text"]
    assert intent_of(reply["entry_id"]) in {"return_policy", "start_return"}


def test_what_are_you_is_answered_honestly(demo: tuple[TestClient, Runtime]) -> None:
    client, _ = demo
    reply = Chat(client).says("what are you?")
    assert reply["entry_id"] == "bot_identity.what_are_you"
    assert "automated assistant" in reply["text"]


def test_closing_an_account_is_answered_with_the_self_service_route_first(
    demo: tuple[TestClient, Runtime],
) -> None:
    client, _ = demo
    reply = Chat(client).says("how do I delete my account?")
    assert reply["decision"] != "handoff"
    assert "Delete account" in reply["text"]
