"""Scripted multi-turn conversations, end to end over the API: what the bot decides each turn,
which escalation rules fire (and which must not), the handoff states, and the bot's silence while
a person has the conversation. The model is a keyword-reading fake so that every turn is known;
the rules are the demo's own (data/escalation.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Conversation, Escalation, Message
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.identity import start_body
from tests.helpers.service import MINI_KB, make_settings

PASSWORD = "correct horse battery"

VIP_RETURNS = {
    "when": {"tier": "vip"},
    "answer": "As a VIP, {customer_name}, you can return items within 60 days.",
    "fallback": "As a VIP you can return items within 60 days.",
}
SCRIPT_KB: dict[str, Any] = {
    "company": "Testshop",
    "entries": [
        *(
            {**entry, "variants": [VIP_RETURNS]} if entry["id"] == "returns.policy" else entry
            for entry in MINI_KB["entries"]
        ),
        {
            "id": "greeting.hello",
            "intent": "greeting",
            "questions": ["Hello", "Hi there"],
            "answer": "Hi {customer_name}, how can I help?",
            "fallback": "Hi, how can I help?",
        },
        {
            "id": "thanks.welcome",
            "intent": "thanks",
            "questions": ["Thanks", "Thank you"],
            "answer": "You're welcome!",
        },
        {
            "id": "goodbye.bye",
            "intent": "goodbye",
            "questions": ["Bye", "Goodbye"],
            "answer": "Goodbye, and thanks for chatting.",
        },
        {
            "id": "account.close",
            "intent": "account_delete",
            "questions": ["How do I close my account?", "Delete my account", "Cancel my account"],
            "answer": "Go to My Account > Privacy > Delete account, or reply 'person'.",
        },
    ],
}


class ScriptReader(FakeReader):
    INTENT_WORDS = {
        **FakeReader.INTENT_WORDS,
        "greeting": ("hello",),
        "thanks": ("thanks", "thank you"),
        "goodbye": ("bye",),
        "account_delete": ("close my account", "cancel my account", "delete my account"),
    }


@dataclass(frozen=True)
class Say:
    """The customer writes; ``decision`` None means the bot must stay silent."""

    text: str
    decision: str | None
    entry: str | None = None
    says: str | None = None  # a phrase the reply must contain
    fired: tuple[str, ...] = ()  # exactly these rules fire on this turn


@dataclass(frozen=True)
class Staff:
    """A member of staff acts: take, reply, hand_back or close."""

    action: str
    text: str = ""
    expect: int = 204


@dataclass(frozen=True)
class State:
    """The conversation's status (and queue and priority, when given) at this point."""

    status: str
    queue: str | None = None
    priority: int | None = None
    high_value: bool | None = None


@dataclass(frozen=True)
class Script:
    name: str
    steps: tuple[Say | Staff | State, ...]
    customer: dict[str, Any] = field(default_factory=dict)


SCRIPTS = [
    Script(
        "greets, asks, thanks and says goodbye, with the name and order filled in",
        (
            Say("Hello", "intent", "greeting.hello", says="Hi Ada"),
            Say(
                "where is my parcel BC-123456?",
                "intent",
                "track_order.where",
                says="order BC-123456",
            ),
            Say("thanks", "intent", "thanks.welcome"),
            Say("bye now", "intent", "goodbye.bye"),
            State("bot"),
        ),
        {"name": "Ada"},
    ),
    Script(
        "gives the order number after the answer that needed it",
        (
            Say("where is my order?", "intent", "track_order.where", says="My Account"),
            Say("it's BC-654321", "answer", "track_order.where", says="order BC-654321"),
        ),
        {"name": "Bo"},
    ),
    Script(
        "starts with nothing but an order number",
        (Say("BC-111222", "slot_noted", says="noted order BC-111222"),),
    ),
    Script(
        "tells the bot their name, then is greeted by it",
        (
            Say("my name is Priya", "slot_noted"),
            Say("hello", "intent", "greeting.hello", says="Hi Priya"),
        ),
    ),
    Script(
        "asks for a person straight away; the bot then stays silent",
        (
            Say("can I talk to a real person", "handoff", fired=("asks_for_a_person",)),
            State("waiting", "general", 2, False),
            Say("hello?", None),
            Say("is anyone there", None),
            State("waiting"),
        ),
    ),
    Script(
        "is not understood twice, is offered a person and accepts",
        (
            Say("blorp", "not_sure"),
            Say("zzzz qqqq", "offer_person", says="connect you with a person"),
            Say("yes please", "handoff", fired=("accepted_offer_of_a_person",)),
            State("waiting", "general"),
        ),
    ),
    Script(
        "is offered a person, declines by asking something the bot knows",
        (
            Say("blorp", "not_sure"),
            Say("zzzz qqqq", "offer_person"),
            Say("no, where is my parcel", "intent", "track_order.where"),
            Say("blorp again", "not_sure"),  # the count of misses started again
            State("bot"),
        ),
    ),
    Script(
        "asks something off-topic, then something the bot knows",
        (
            Say("what will the weather be tomorrow", "out_of_scope", says="not something I can"),
            Say("how do I return an item", "intent", "returns.policy", says="within 30 days"),
            State("bot"),
        ),
    ),
    Script(
        "a VIP asks about returns and gets the VIP window, by name",
        (
            Say(
                "how do I return an item",
                "intent",
                "returns.policy",
                says="Zoe, you can return items within 60 days",
            ),
        ),  # fmt: skip
        {"external_id": "vip-3", "name": "Zoe", "attributes": {"tier": "VIP"}},
    ),
    Script(
        "is unhappy once, then fine: no escalation",
        (
            Say("my parcel is still late", "intent", "track_order.where"),
            Say("great, thanks", "intent", "thanks.welcome"),
            Say("I'm angry my parcel is late", "intent", "track_order.where"),
            State("bot"),
        ),
    ),
    Script(
        "is unhappy twice in a row: escalated with high priority",
        (
            Say("my parcel is still not here", "intent", "track_order.where"),
            Say("this is ridiculous", "handoff", fired=("two_negative_messages_in_a_row",)),
            State("waiting", "general", 3, False),
        ),
    ),
    Script(
        "a VIP who is unhappy goes to the VIP queue, urgent and at the front",
        (
            Say("I'm angry, where is my parcel", "handoff", fired=("vip_and_unhappy",)),
            State("waiting", "vip", 4, True),
        ),
        {"external_id": "vip-1", "attributes": {"tier": "vip"}},
    ),
    Script(
        "a VIP who is content is answered by the bot",
        (
            Say("great, thanks, can I pay by card", "answer"),
            Say("where is my parcel", "intent", "track_order.where"),
            State("bot"),
        ),
        {"external_id": "vip-2", "attributes": {"tier": "vip"}},
    ),
    Script(
        "threatens legal action: urgent escalation",
        (
            Say(
                "I will take legal action over this order",
                "handoff",
                fired=("legal_action",),
            ),
            State("waiting", "escalations", 4),
        ),
    ),
    Script(
        "wants their account closed: the bot answers with the way to do it",
        (
            Say("how do I close my account", "intent", "account.close", says="Delete account"),
            State("bot"),
        ),
    ),
    Script(
        "wants their account closed and is unhappy: the retention queue",
        (
            Say(
                "this is useless, cancel my account",
                "handoff",
                fired=("closing_account_and_unhappy",),
            ),
            State("waiting", "retention", 3),
        ),
    ),
    Script(
        "likely to leave and unhappy: the retention queue",
        (
            Say("my password reset is useless", "handoff", fired=("likely_to_leave_and_unhappy",)),
            State("waiting", "retention", 3),
        ),
        {"external_id": "churny", "attributes": {"churn_risk": 0.81}},
    ),
    Script(
        "likely to leave but content: no escalation",
        (Say("how can I pay", "intent", "payment.methods"), State("bot")),
        {"external_id": "churny-2", "attributes": {"churn_risk": 0.9}},
    ),
    Script(
        "a person takes over, replies, hands back; the bot answers again",
        (
            Say("I want a human", "handoff", fired=("asks_for_a_person",)),
            Staff("reply", "Hello!", expect=403),  # not taken over yet
            Staff("take"),
            State("with_agent"),
            Staff("reply", "Hi, Sam here. Let me look."),
            Say("thank you Sam", None),
            Staff("take", expect=409),
            Staff("hand_back"),
            State("bot"),
            Say("where is my parcel", "intent", "track_order.where"),
        ),
    ),
    Script(
        "a person steps in before any rule fires, then closes; a new message reopens it",
        (
            Say("where is my parcel", "intent", "track_order.where"),
            Staff("take"),
            Say("are you a bot?", None),
            Staff("close"),
            State("closed"),
            Say("one more thing: how can I pay", "intent", "payment.methods"),
            State("bot"),
        ),
    ),
    Script(
        "escalated while unhappy; after the hand-back the old streak does not fire again",
        (
            Say("my parcel is still late", "intent"),
            Say("awful service", "handoff", fired=("two_negative_messages_in_a_row",)),
            Staff("take"),
            Staff("hand_back"),
            Say("my parcel is still not here", "intent", "track_order.where"),  # one negative
            State("bot"),
        ),
    ),
    Script(
        "a waiting conversation is closed without being taken",
        (
            Say("get me an agent", "handoff", fired=("asks_for_a_person",)),
            Staff("close"),
            State("closed"),
        ),
    ),
]


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    kb = tmp_path / "kb.yaml"
    kb.write_text(yaml.safe_dump(SCRIPT_KB, sort_keys=False), encoding="utf-8")
    runtime = build_runtime(make_settings(database_url, tmp_path, kb), encoder=ScriptReader())
    runtime.staff.create_account("sam", PASSWORD, Role.AGENT, "Sam")
    with TestClient(create_app(runtime.settings, runtime)) as client:
        yield client, runtime
    runtime.close()


def test_there_are_at_least_twenty_varied_scripts() -> None:
    assert len(SCRIPTS) >= 20
    decisions = {s.decision for script in SCRIPTS for s in script.steps if isinstance(s, Say)}
    assert {"intent", "answer", "slot_noted", "not_sure", "out_of_scope", "offer_person",
            "handoff", None} <= decisions  # fmt: skip
    fired = {rule for script in SCRIPTS for s in script.steps if isinstance(s, Say)
             for rule in s.fired}  # fmt: skip
    assert len(fired) == 7  # every demo rule fires in some script


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_scripted_conversation(desk: tuple[TestClient, Runtime], script: Script) -> None:
    client, runtime = desk
    started = client.post("/api/conversations", json=start_body(script.customer)).json()
    conversation_id = started["conversation_id"]
    customer = {"Authorization": f"Bearer {started['customer_token']}"}
    token = client.post("/api/staff/login", json={"username": "sam", "password": PASSWORD})
    staff = {"Authorization": f"Bearer {token.json()['token']}"}
    for number, step in enumerate(script.steps, start=1):
        where = f"{script.name}, step {number}: {step}"
        if isinstance(step, Say):
            _customer_says(client, runtime, conversation_id, customer, step, where)
        elif isinstance(step, Staff):
            _staff_acts(client, conversation_id, staff, step, where)
        else:
            _conversation_is(runtime, conversation_id, step, where)


def _customer_says(
    client: TestClient,
    runtime: Runtime,
    conversation_id: str,
    customer: dict[str, str],
    step: Say,
    where: str,
) -> None:
    escalations_before = _escalation_count(runtime, conversation_id)
    response = client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": step.text},
        headers=customer,
    )
    assert response.status_code == 200, where
    reply = response.json()["reply"]
    if step.decision is None:
        assert reply is None, where
        return
    assert reply is not None and reply["decision"] == step.decision, (where, reply)
    if step.entry is not None:
        assert reply["entry_id"] == step.entry, (where, reply)
    if step.says is not None:
        assert step.says in reply["text"], (where, reply["text"])
    assert _rules_fired_since(runtime, conversation_id, escalations_before) == set(step.fired), (
        where
    )
    assert _customer_message_read(runtime, conversation_id), where


def _staff_acts(
    client: TestClient, conversation_id: str, staff: dict[str, str], step: Staff, where: str
) -> None:
    url = f"/api/staff/conversations/{conversation_id}"
    if step.action == "reply":
        response = client.post(f"{url}/messages", json={"text": step.text}, headers=staff)
        expected = 200 if step.expect == 204 else step.expect
    else:
        path = {"take": "take", "hand_back": "hand-back", "close": "close"}[step.action]
        response = client.post(f"{url}/{path}", headers=staff)
        expected = step.expect
    assert response.status_code == expected, (where, response.text)


def _conversation_is(runtime: Runtime, conversation_id: str, step: State, where: str) -> None:
    with runtime.sessions() as session:
        row = session.get(Conversation, conversation_id)
    assert row is not None and row.status == step.status, (where, row and row.status)
    if step.queue is not None:
        assert row.queue == step.queue, where
    if step.priority is not None:
        assert row.priority == step.priority, where
    if step.high_value is not None:
        assert row.high_value is step.high_value, where


def _escalation_count(runtime: Runtime, conversation_id: str) -> int:
    with runtime.sessions() as session:
        return len(
            session.scalars(
                select(Escalation.id).where(Escalation.conversation_id == conversation_id)
            ).all()
        )


def _rules_fired_since(runtime: Runtime, conversation_id: str, before: int) -> set[str]:
    with runtime.sessions() as session:
        escalations = session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id)
        ).all()
    return {firing["rule"] for e in escalations[before:] for firing in e.rules}


def _customer_message_read(runtime: Runtime, conversation_id: str) -> bool:
    with runtime.sessions() as session:
        last = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.role == "customer")
            .order_by(Message.id.desc())
        ).first()
    return last is not None and last.intent is not None and last.sentiment is not None


def test_high_value_and_urgent_conversations_lead_the_queue(
    desk: tuple[TestClient, Runtime],
) -> None:
    client, _ = desk
    order = []
    for identity, text in (
        ({}, "get me an agent"),  # normal
        ({}, "I will call my lawyer"),  # urgent
        ({"external_id": "big", "attributes": {"lifetime_value": 2500}}, "get me an agent"),
    ):
        started = client.post("/api/conversations", json=start_body(identity)).json()
        client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {started['customer_token']}"},
        )
        order.append(started["conversation_id"])
    token = client.post("/api/staff/login", json={"username": "sam", "password": PASSWORD})
    queue = client.get(
        "/api/staff/queue", headers={"Authorization": f"Bearer {token.json()['token']}"}
    ).json()
    # The high-value customer first (normal priority), then urgent, then normal.
    assert [item["conversation_id"] for item in queue] == [order[2], order[1], order[0]]


def test_a_returning_customer_is_reminded_of_what_was_left_open(
    desk: tuple[TestClient, Runtime],
) -> None:
    client, _ = desk

    def visit(*texts: str) -> list[dict[str, Any] | None]:
        lee = {"external_id": "back-1", "name": "Lee"}
        started = client.post("/api/conversations", json=start_body(lee)).json()
        replies = []
        for text in texts:
            replies.append(
                client.post(
                    f"/api/conversations/{started['conversation_id']}/messages",
                    json={"text": text},
                    headers={"Authorization": f"Bearer {started['customer_token']}"},
                ).json()["reply"]
            )
        return replies

    # Last time: asked about their password, then wanted a person and left waiting.
    visit("I forgot my password", "I want a human")
    (hello,) = visit("hello")
    assert hello is not None and hello["text"] == (
        'Hi Lee, how can I help? Last time you asked "I forgot my password". Is that sorted now?'
    )
    # Mentioned once; and a conversation that ended answered leaves nothing open.
    again = visit("hello", "hello")
    assert all(r is not None and "Last time" not in r["text"] for r in again)
