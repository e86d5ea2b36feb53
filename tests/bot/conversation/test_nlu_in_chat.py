"""The NLU model in the chat loop (with a keyword-reading fake model): what is stored on every
customer message, and how intent, confidence and out-of-scope steer the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.conversation.turn import NOT_SURE_REPLY, OUT_OF_SCOPE_REPLY
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Message
from tests.fakes import FakeReader
from tests.helpers.service import make_settings


@pytest.fixture
def reading_runtime(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    settings = make_settings(database_url, tmp_path, mini_kb_path, answer_threshold=0.9)
    built = build_runtime(settings, encoder=FakeReader())
    yield built
    built.close()


@pytest.fixture
def chat(reading_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(reading_runtime.settings, reading_runtime)) as client:
        yield client


def say(client: TestClient, text: str) -> dict[str, dict[str, object]]:
    started = client.post("/api/conversations", json={"customer": {"name": "Ada"}}).json()
    response = client.post(
        f"/api/conversations/{started['conversation_id']}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    )
    assert response.status_code == 200, response.text
    turn: dict[str, dict[str, object]] = response.json()
    return turn


def stored_customer_messages(runtime: Runtime) -> list[Message]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Message).where(Message.role == "customer").order_by(Message.id)
            ).all()
        )


def test_every_customer_message_is_stored_with_what_the_model_read(
    chat: TestClient, reading_runtime: Runtime
) -> None:
    turn = say(chat, "I'm still angry, where is my parcel?")
    say(chat, "great, thanks, can I pay by card?")
    first, second = stored_customer_messages(reading_runtime)
    assert (first.intent, first.out_of_scope, first.sentiment) == ("track_order", False, "negative")
    assert first.intent_confidence == pytest.approx(0.9)
    assert first.sentiment_score == pytest.approx(-0.8)
    assert (second.intent, second.sentiment) == ("payment_methods", "positive")
    # How the bot judged the customer is for staff; the customer's own API does not show it.
    assert not {"intent", "sentiment", "sentiment_score"} & set(turn["message"])


def test_a_confident_intent_answers_from_its_own_entries(chat: TestClient) -> None:
    # Retrieval alone would not be sure (answer threshold 0.9 here); the intent is.
    reply = say(chat, "has it shipped? the order I mean")["reply"]
    assert reply["decision"] == "intent"
    assert reply["entry_id"] == "track_order.where"
    assert reply["text"] == "Your order is on its way; see My Account > Orders."


def test_an_unsure_intent_leaves_the_answer_to_retrieval(chat: TestClient) -> None:
    # Two intents' keywords: confidence 0.3, below the intent threshold; retrieval is unsure too.
    reply = say(chat, "my order and my password")["reply"]
    assert reply["decision"] == "not_sure"
    assert reply["text"] == NOT_SURE_REPLY


def test_out_of_scope_is_said_plainly_and_not_answered_with_a_guess(
    chat: TestClient, reading_runtime: Runtime
) -> None:
    turn = say(chat, "what will the weather be like for my parcel delivery")
    assert stored_customer_messages(reading_runtime)[0].out_of_scope is True
    assert turn["reply"]["decision"] == "out_of_scope"
    assert turn["reply"]["text"] == OUT_OF_SCOPE_REPLY
