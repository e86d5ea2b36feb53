"""Escalation and handoff in the chat loop (keyword-reading fake model, demo escalation rules):
the rules that fire and those that must not, the conversation's status, and the bot's silence
while a person is waited for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.app import create_app
from bot.conversation.turn import HANDOFF_REPLY
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Conversation, Escalation, Message
from tests.fakes import FakeReader
from tests.helpers.identity import start_body
from tests.helpers.service import make_settings


@pytest.fixture
def runtime_with_rules(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeReader())
    yield built
    built.close()


@pytest.fixture
def chat(runtime_with_rules: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime_with_rules.settings, runtime_with_rules)) as client:
        yield client


class Customer:
    def __init__(self, client: TestClient, **identity: Any) -> None:
        started = client.post("/api/conversations", json=start_body(identity)).json()
        self.client = client
        self.conversation_id = started["conversation_id"]
        self.auth = {"Authorization": f"Bearer {started['customer_token']}"}

    def says(self, text: str) -> dict[str, Any] | None:
        response = self.client.post(
            f"/api/conversations/{self.conversation_id}/messages",
            json={"text": text},
            headers=self.auth,
        )
        assert response.status_code == 200, response.text
        reply: dict[str, Any] | None = response.json()["reply"]
        return reply


def conversation_row(runtime: Runtime, conversation_id: str) -> Conversation:
    with runtime.sessions() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        return row


def escalations(runtime: Runtime, conversation_id: str) -> list[Escalation]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Escalation).where(Escalation.conversation_id == conversation_id)
            ).all()
        )


def test_asking_for_a_person_hands_over_and_the_bot_falls_silent(
    chat: TestClient, runtime_with_rules: Runtime
) -> None:
    ada = Customer(chat, name="Ada")
    assert ada.says("where is my parcel?")["decision"] == "intent"  # type: ignore[index]
    handoff = ada.says("can I talk to a real person please")
    assert handoff is not None and handoff["decision"] == "handoff"
    assert handoff["text"] == HANDOFF_REPLY
    row = conversation_row(runtime_with_rules, ada.conversation_id)
    assert (row.status, row.queue, row.priority, row.high_value) == ("waiting", "general", 2, False)
    (escalation,) = escalations(runtime_with_rules, ada.conversation_id)
    assert escalation.rules == [{"rule": "asks_for_a_person", "why": "intent human_agent"}]
    assert escalation.reason == "The customer asked for a person"

    # While a person is waited for, the customer's messages are stored for them, unanswered.
    assert ada.says("hello? it's still not here and I'm angry") is None
    assert ada.says("ridiculous") is None
    with runtime_with_rules.sessions() as session:
        last = session.scalars(select(Message).order_by(Message.id.desc())).first()
        assert last is not None and (last.role, last.sentiment) == ("customer", "negative")
        bot_replies = session.scalars(select(Message).where(Message.role == "bot")).all()
    assert len(bot_replies) == 2
    # No second escalation while one is open, however unhappy the messages.
    assert len(escalations(runtime_with_rules, ada.conversation_id)) == 1


def test_two_negative_messages_in_a_row_escalate_with_high_priority(
    chat: TestClient, runtime_with_rules: Runtime
) -> None:
    bo = Customer(chat)
    first = bo.says("my parcel is still not here")
    assert first is not None and first["decision"] == "intent"  # one negative message: no rule
    second = bo.says("this is ridiculous, where is my order")
    assert second is not None and second["decision"] == "handoff"
    assert "two_negative_messages_in_a_row (2 negative messages in a row)" in str(
        _reason(runtime_with_rules, second["id"])
    )
    assert conversation_row(runtime_with_rules, bo.conversation_id).priority == 3


def test_a_vip_who_is_unhappy_goes_to_the_vip_queue_at_the_front(
    chat: TestClient, runtime_with_rules: Runtime
) -> None:
    vip = Customer(chat, external_id="v-1", attributes={"tier": "vip"})
    reply = vip.says("I'm angry, my order is late")
    assert reply is not None and reply["decision"] == "handoff"
    row = conversation_row(runtime_with_rules, vip.conversation_id)
    assert (row.queue, row.priority, row.high_value) == ("vip", 4, True)
    # The same words from a customer with no tier: one negative message fires nothing.
    plain = Customer(chat, external_id="p-1")
    assert plain.says("I'm angry, my order is late")["decision"] == "intent"  # type: ignore[index]


def test_legal_words_escalate_urgently_and_ordinary_words_do_not(
    chat: TestClient, runtime_with_rules: Runtime
) -> None:
    calm = Customer(chat)
    assert calm.says("how do I return an item to my account address")["decision"] != "handoff"  # type: ignore[index]
    legal = Customer(chat)
    reply = legal.says("I will contact my lawyer about this order")
    assert reply is not None and reply["decision"] == "handoff"
    (escalation,) = escalations(runtime_with_rules, legal.conversation_id)
    assert escalation.rules[0] == {"rule": "legal_action", "why": "said 'lawyer'"}
    assert escalation.priority == 4


def test_a_closed_conversation_reopens_when_the_customer_writes_again(
    chat: TestClient, runtime_with_rules: Runtime
) -> None:
    cy = Customer(chat)
    with runtime_with_rules.sessions.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == cy.conversation_id)
            .values(status="closed")
        )
    reply = cy.says("where is my parcel?")
    assert reply is not None and reply["decision"] == "intent"
    assert conversation_row(runtime_with_rules, cy.conversation_id).status == "bot"


def _reason(runtime: Runtime, message_id: int) -> str | None:
    with runtime.sessions() as session:
        message = session.get(Message, message_id)
        return message.decision_reason if message else None
