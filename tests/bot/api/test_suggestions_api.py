"""Suggested replies: the person who has a conversation gets the knowledge base's best answers to
the customer's last message, worded as the bot words them; what their reply started from is
recorded with it, and counted per entry."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.models import ReplySuggestion, utcnow
from bot.support.accounts import Role
from bot.support.suggestions import SuggestionService
from tests.helpers.identity import start_body
from tests.helpers.service import STAFF_PASSWORD, log_in


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    """This module's client talks to the staff desk (tests/bot/conftest.py)."""
    return desk_client


class Customer:
    """A signed-in customer of the site chatting over REST."""

    def __init__(self, client: TestClient, **identity: Any) -> None:
        body = start_body({"external_id": f"ada-{uuid.uuid4().hex}", **identity})
        started = client.post("/api/conversations", json=body).json()
        self.client = client
        self.id = started["conversation_id"]
        self.customer_id = started["customer_id"]
        self.auth = {"Authorization": f"Bearer {started['customer_token']}"}

    def says(self, text: str) -> dict[str, Any]:
        url = f"/api/conversations/{self.id}/messages"
        response = self.client.post(url, json={"text": text}, headers=self.auth)
        assert response.status_code == 200, response.text
        turn: dict[str, Any] = response.json()
        return turn


def taken_by(client: TestClient, agent: dict[str, str], **identity: Any) -> Customer:
    """A customer who asked for a person, and the agent took the conversation."""
    customer = Customer(client, **identity)
    assert customer.says("I want a real person")["reply"]["decision"] == "handoff"
    taken = client.post(f"/api/staff/conversations/{customer.id}/take", headers=agent)
    assert taken.status_code == 204, taken.text
    return customer


def suggestions_for(client: TestClient, customer: Customer, agent: dict[str, str]) -> Any:
    response = client.get(f"/api/staff/conversations/{customer.id}/suggestions", headers=agent)
    assert response.status_code == 200, response.text
    return response.json()


def test_suggestions_answer_the_last_message_with_slots_filled_as_the_bot_fills_them(
    client: TestClient,
) -> None:
    agent = log_in(client, "sam")
    customer = taken_by(client, agent, name="Ada", email="ada@example.com")
    asked = customer.says("where is my order BC-123456?")
    assert asked["reply"] is None  # a person has it: the bot is silent

    shown = suggestions_for(client, customer, agent)
    assert shown["message_id"] == asked["message"]["id"]
    assert shown["message_text"] == "where is my order BC-123456?"
    entries = shown["suggestions"]
    assert len(entries) == 3
    assert entries[0]["entry_id"] == "track_order.where"
    assert entries[0]["question"] == "Where is my order?"
    assert entries[0]["answer"] == "Hi Ada, order BC-123456 is on its way."
    scores = [entry["score"] for entry in entries]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1
    # The same question to the bot, from the same customer, gets the same words.
    same = Customer(client, name="Ada", email="ada@example.com")
    assert same.says("where is my order BC-123456?")["reply"]["text"] == entries[0]["answer"]

    # A new message is answered next; the profile's e-mail fills its slot.
    customer.says("I forgot my password")
    password = suggestions_for(client, customer, agent)["suggestions"][0]
    assert password["entry_id"] == "account.password"
    assert password["answer"] == "We sent a reset link to ada@example.com."


def test_an_unknown_slot_gives_the_entrys_fallback(client: TestClient) -> None:
    agent = log_in(client, "sam")
    customer = taken_by(client, agent)  # no name nor order number
    customer.says("where is my parcel")
    first = suggestions_for(client, customer, agent)["suggestions"][0]
    assert first["entry_id"] == "track_order.where"
    assert first["answer"] == "Your order is on its way; see My Account > Orders."


def test_only_the_person_who_has_it_gets_suggestions_and_only_after_a_customer_message(
    client: TestClient, desk: Runtime
) -> None:
    desk.staff.create_account("kim", STAFF_PASSWORD, Role.AGENT, "Kim")
    sam, kim, admin = log_in(client, "sam"), log_in(client, "kim"), log_in(client, "ana")
    url = "/api/staff/conversations/{}/suggestions"

    unknown = client.get(url.format("nope"), headers=sam)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "conversation 'nope' does not exist"

    waiting = Customer(client)
    waiting.says("I want a real person")
    refused = client.get(url.format(waiting.id), headers=sam)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "take the conversation over first (it is waiting)"

    customer = taken_by(client, sam)
    other = client.get(url.format(customer.id), headers=kim)
    assert other.status_code == 403
    assert other.json()["detail"] == "another member of staff has this conversation"
    assert client.get(url.format(customer.id), headers=admin).status_code == 200

    silent = Customer(client)
    assert client.post(f"/api/staff/conversations/{silent.id}/take", headers=sam).status_code == 204
    nothing = client.get(url.format(silent.id), headers=sam)
    assert nothing.status_code == 409
    assert "the customer has written nothing yet" in nothing.json()["detail"]
    assert client.get(url.format(customer.id)).status_code == 401


def test_the_reply_records_what_it_started_from_and_counts_add_up_per_entry(
    client: TestClient, desk: Runtime
) -> None:
    agent = log_in(client, "sam")
    customer = taken_by(client, agent, name="Ada")
    customer.says("where is my order BC-123456?")
    shown = suggestions_for(client, customer, agent)
    ids = [entry["entry_id"] for entry in shown["suggestions"]]
    url = f"/api/staff/conversations/{customer.id}/messages"

    edited = {"message_id": shown["message_id"], "shown": ids, "entry_id": ids[0]}
    sent = client.post(
        url,
        json={
            "text": "Hi Ada, BC-123456 left today.",
            "suggestions": {**edited, "outcome": "edited"},
        },
        headers=agent,
    )
    assert sent.status_code == 200, sent.text
    with desk.sessions() as session:
        rows = session.scalars(select(ReplySuggestion).order_by(ReplySuggestion.id)).all()
        sam_id = desk.staff.authenticate(agent["Authorization"].split()[1]).id
    assert [(row.entry_id, row.outcome) for row in rows] == [
        (ids[0], "edited"),
        (ids[1], "ignored"),
        (ids[2], "ignored"),
    ]
    assert {(row.conversation_id, row.message_id, row.reply_id, row.staff_id) for row in rows} == {
        (customer.id, shown["message_id"], sent.json()["id"], sam_id)
    }

    # Used as it was, then a reply from none of them: all shown are ignored.
    used = {**edited, "entry_id": ids[1], "outcome": "used"}
    text = shown["suggestions"][1]["answer"]
    assert client.post(url, json={"text": text, "suggestions": used}, headers=agent).is_success
    none = {"message_id": shown["message_id"], "shown": ids[:2], "outcome": "none"}
    assert client.post(
        url, json={"text": "One moment.", "suggestions": none}, headers=agent
    ).is_success
    # One picked earlier, no longer on screen, counts as shown.
    earlier = {**used, "shown": [ids[2]], "entry_id": ids[0]}
    assert client.post(url, json={"text": "Hi", "suggestions": earlier}, headers=agent).is_success
    # A reply without suggestions shown records nothing.
    assert client.post(url, json={"text": "Anything else?"}, headers=agent).is_success

    usage = client.get("/api/staff/suggestions/by-entry?days=7", headers=agent)
    assert usage.status_code == 200
    counts = [
        (e["entry_id"], e["used"], e["edited"], e["ignored"]) for e in usage.json()["entries"]
    ]
    # The most edited or ignored first; of two as often, the one less often used.
    assert counts == [(ids[2], 0, 0, 3), (ids[0], 1, 1, 2), (ids[1], 1, 0, 2)]
    assert usage.json()["entries"][1]["question"] == "Where is my order?"


def test_a_wrong_account_of_the_suggestions_is_refused_and_nothing_is_sent(
    client: TestClient, desk: Runtime
) -> None:
    agent = log_in(client, "sam")
    customer = taken_by(client, agent)
    customer.says("where is my parcel")
    shown = suggestions_for(client, customer, agent)
    ids = [entry["entry_id"] for entry in shown["suggestions"]]
    bot_reply = client.get(f"/api/staff/conversations/{customer.id}", headers=agent).json()[
        "messages"
    ][1]
    assert bot_reply["role"] == "bot"
    good = {"message_id": shown["message_id"], "shown": ids, "entry_id": ids[0], "outcome": "used"}
    cases = [
        ({**good, "entry_id": "payment.unknown"}, "no knowledge-base entry 'payment.unknown'"),
        ({**good, "entry_id": None}, "give `entry_id` with the outcome `used` or `edited`"),
        ({**good, "outcome": "none"}, "and none with `none`"),
        ({**good, "shown": [ids[0], ids[0]]}, "`shown` names an entry twice"),
        ({**good, "shown": ids * 4}, "shown"),
        ({**good, "outcome": "kept"}, "outcome"),
        ({**good, "shown": ["gone.entry"], "entry_id": "gone.entry"}, "no knowledge-base entry"),
        ({**good, "message_id": bot_reply["id"]}, "is not a customer message of this"),
    ]
    url = f"/api/staff/conversations/{customer.id}/messages"
    for suggestions, why in cases:
        response = client.post(
            url, json={"text": "Hello", "suggestions": suggestions}, headers=agent
        )
        assert response.status_code == 422, (suggestions, response.text)
        assert why in response.text, (suggestions, response.text)
    elsewhere = Customer(client)
    elsewhere.says("hello")
    other_message = elsewhere.says("where is my parcel")["message"]["id"]
    response = client.post(
        url,
        json={"text": "Hello", "suggestions": {**good, "message_id": other_message}},
        headers=agent,
    )
    assert response.status_code == 422
    # Nor does a reply by someone who does not have the conversation record anything.
    desk.staff.create_account("kim", STAFF_PASSWORD, Role.AGENT, "Kim")
    kim = log_in(client, "kim")
    assert (
        client.post(url, json={"text": "Hi", "suggestions": good}, headers=kim).status_code == 403
    )
    nowhere = client.post(
        "/api/staff/conversations/nope/messages",
        json={"text": "Hi", "suggestions": good},
        headers=agent,
    )
    assert nowhere.status_code == 404
    transcript = client.get(f"/api/staff/conversations/{customer.id}", headers=agent).json()
    assert [m["role"] for m in transcript["messages"]] == ["customer", "bot", "customer"]
    with desk.sessions() as session:
        assert session.scalars(select(ReplySuggestion)).all() == []


def test_the_usage_window_ends_now_and_erasing_the_customer_erases_their_records(
    client: TestClient, desk: Runtime
) -> None:
    agent, admin = log_in(client, "sam"), log_in(client, "ana")
    customer = taken_by(client, agent)
    customer.says("where is my parcel")
    shown = suggestions_for(client, customer, agent)
    ids = [entry["entry_id"] for entry in shown["suggestions"]]
    use = {"message_id": shown["message_id"], "shown": ids, "outcome": "none"}
    url = f"/api/staff/conversations/{customer.id}/messages"
    assert client.post(url, json={"text": "Hi", "suggestions": use}, headers=agent).is_success

    def usage_on(day: timedelta) -> list[str]:
        service = SuggestionService(
            sessions=desk.sessions,
            chat=desk.chat,
            support=desk.support,
            clock=lambda: utcnow() + day,
        )
        return [entry.entry_id for entry in service.usage(days=1).entries]

    assert sorted(usage_on(timedelta(hours=1))) == sorted(ids)
    assert usage_on(timedelta(days=2)) == []
    assert usage_on(timedelta(hours=-1)) == []
    assert client.get("/api/staff/suggestions/by-entry?days=0", headers=agent).status_code == 422

    erased = client.delete(f"/api/staff/customers/{customer.customer_id}", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["rows"]["reply_suggestions"] == 3
    with desk.sessions() as session:
        assert session.scalars(select(ReplySuggestion)).all() == []


def test_a_reply_and_its_record_are_stored_together_or_not_at_all(
    client: TestClient, desk: Runtime
) -> None:
    agent = log_in(client, "sam")
    customer = taken_by(client, agent)
    member = desk.staff.authenticate(agent["Authorization"].removeprefix("Bearer "))

    def failing_record(session: Session, reply_id: int) -> None:
        raise RuntimeError("the record could not be written")

    with pytest.raises(RuntimeError):
        desk.support.reply(member, customer.id, "Hello", alongside=failing_record)
    transcript = client.get(f"/api/staff/conversations/{customer.id}", headers=agent).json()
    assert [m["role"] for m in transcript["messages"]] == ["customer", "bot"]
