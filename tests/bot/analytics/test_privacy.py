"""A customer's data on request: export gives everything written, erasure leaves nothing of them
and the other customers' data whole, purge erases what is past the retention period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from bot.analytics.privacy import CLI, Actor, CustomerRef, PrivacyService
from bot.analytics.profiles import ProfileService
from bot.app import create_app
from bot.errors import NotFound
from bot.runtime import Runtime
from bot.storage.db import create_db_engine, migrate
from bot.storage.models import (
    ActionCall,
    Conversation,
    Customer,
    ErasedActivity,
    Escalation,
    Message,
    PrivacyRecord,
    StaffAction,
    Survey,
)
from tests.helpers.privacy import History, dump, write_history

# "Now" for erasures and purges: just after the histories were written.
NOW = datetime.now(UTC) + timedelta(hours=1)


class Consoles:
    """Records what open consoles would be told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    def announce(self, conversation_id: str, change: str) -> None:
        self.told.append((conversation_id, change))


@pytest.fixture
def two_customers(privacy_desk: Runtime) -> tuple[History, History]:
    with TestClient(create_app(privacy_desk.settings, privacy_desk)) as client:
        return (
            write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace"),
            write_history(client, privacy_desk.sessions, "bob", "Bob Marley"),
        )


def test_export_holds_everything_written_about_the_customer(
    privacy_desk: Runtime, two_customers: tuple[History, History]
) -> None:
    ada, bob = two_customers
    document = PrivacyService(privacy_desk.sessions).export(
        CustomerRef(external_id=ada.external_id), CLI
    )
    json.dumps(document)  # one JSON document as it is

    with privacy_desk.sessions() as session:
        customer = session.get(Customer, ada.customer_id)
        assert customer is not None
        messages = session.scalars(
            select(Message).where(Message.customer_id == ada.customer_id).order_by(Message.id)
        ).all()
        escalations = session.scalars(
            select(Escalation).where(Escalation.conversation_id == ada.conversation_id)
        ).all()
        calls = session.scalars(
            select(ActionCall).where(ActionCall.conversation_id == ada.conversation_id)
        ).all()
        staff_actions = session.scalars(
            select(StaffAction).where(StaffAction.conversation_id == ada.conversation_id)
        ).all()
    profile = document["customer"]
    assert (profile["id"], profile["external_id"], profile["name"]) == (
        ada.customer_id,
        ada.external_id,
        "Ada Lovelace",
    )
    # The profile holds the address; the message that gave it again, only "[email]".
    assert profile["email"] == "ada.private@example.org"
    assert profile["attributes"] == {"tier": "gold"}
    [conversation] = document["conversations"]
    assert conversation["id"] == ada.conversation_id
    assert conversation["status"] == "closed"
    assert "token_hash" not in conversation
    assert "slots" in conversation and "dialogue" in conversation
    exported = document["messages"]
    assert [m["id"] for m in exported] == [m.id for m in messages]
    assert [m["text"] for m in exported] == [m.text for m in messages]
    assert {m["role"] for m in exported} == {"customer", "bot", "agent"}
    read = [m for m in exported if m["role"] == "customer"]
    assert len(read) == 3
    assert all(m["intent"] and m["sentiment"] and m["questions"] for m in read)
    assert read[0]["corrected_intent"] == "track_order"
    assert "[email]" in read[1]["text"]
    assert [e["id"] for e in document["escalations"]] == [e.id for e in escalations]
    assert document["escalations"][0]["rules"]
    [survey] = document["surveys"]
    assert (survey["csat"], survey["nps"], survey["comment"]) == (
        4,
        9,
        "ada liked the narwhal answer",
    )
    assert [c["id"] for c in document["action_calls"]] == [c.id for c in calls]
    assert document["action_calls"][0]["action"] == "order_status"
    assert (
        {a["action"] for a in document["staff_actions"]}
        == {a.action for a in staff_actions}
        == {"take", "reply", "correct_intent"}
    )
    # Nothing of the other customer.
    text = json.dumps(document)
    assert not [trace for trace in bob.traces if trace in text]
    # The export itself is on the record, which the next export shows.
    again = PrivacyService(privacy_desk.sessions).export(CustomerRef(ada.customer_id), CLI)
    assert [r["action"] for r in again["privacy_records"]] == ["export"]


def test_erasure_leaves_nothing_of_the_customer_and_the_others_whole(
    privacy_desk: Runtime, two_customers: tuple[History, History], tmp_path: Path
) -> None:
    ada, bob = two_customers
    before = dump(privacy_desk.sessions)
    assert all(trace in before for trace in ada.traces + bob.traces)
    bob_before = PrivacyService(privacy_desk.sessions).export(CustomerRef(bob.customer_id), CLI)

    consoles = Consoles()
    erased = PrivacyService(privacy_desk.sessions, clock=lambda: NOW, events=consoles).erase(
        CustomerRef(external_id=ada.external_id), Actor.staff(1)
    )
    assert consoles.told == [(ada.conversation_id, "erased")]

    assert erased.customer_id == ada.customer_id
    assert erased.rows["conversations"] == 1 and erased.rows["messages"] == 7
    after = dump(privacy_desk.sessions)
    assert [trace for trace in ada.traces if trace in after] == []
    for trace in bob.traces:
        assert trace in after
    bob_after = PrivacyService(privacy_desk.sessions).export(CustomerRef(bob.customer_id), CLI)
    for name in ("customer", "conversations", "messages", "escalations", "surveys"):
        assert bob_after[name] == bob_before[name]
    with privacy_desk.sessions() as session:
        # An empty shell keeps the internal id the record names from going to anyone else.
        shell = session.get(Customer, ada.customer_id)
        assert shell is not None
        assert (shell.external_id, shell.name, shell.email, shell.attributes) == (
            None,
            None,
            None,
            {},
        )
        # The staff's record of what they did stays, without the link to the conversation.
        assert session.scalar(
            select(StaffAction.id).where(StaffAction.action == "correct_intent").limit(1)
        )
        record = session.scalars(select(PrivacyRecord).where(PrivacyRecord.action == "erase")).one()
        assert (record.action, record.customer_id, record.actor, record.staff_id) == (
            "erase",
            ada.customer_id,
            "staff",
            1,
        )
        # The day's counts stay, of nobody in particular.
        [day] = session.scalars(select(ErasedActivity)).all()
        assert (day.conversations, day.messages, day.escalations, day.surveys) == (1, 7, 1, 1)
        assert (day.csat_answers, day.csat_total, day.action_calls) == (1, 4, 1)
    # The record names the customer by internal id only.
    assert [trace for trace in ada.traces if trace in str(record.details)] == []
    # The database files hold none of it either (SQLite: deleted content is overwritten).
    if privacy_desk.settings.database_url.startswith("sqlite"):
        raw = b"".join(path.read_bytes() for path in tmp_path.glob("cxagent.db*"))
        assert [trace for trace in ada.traces if trace.encode() in raw] == []


def test_a_customer_is_found_by_internal_or_external_id_and_an_unknown_one_is_not(
    privacy_desk: Runtime, two_customers: tuple[History, History]
) -> None:
    ada, _ = two_customers
    privacy = PrivacyService(privacy_desk.sessions)
    assert privacy.summary(CustomerRef(ada.customer_id)).external_id == ada.external_id
    assert privacy.summary(CustomerRef(external_id=ada.external_id)).id == ada.customer_id
    assert privacy.summary(CustomerRef(ada.customer_id)).conversations == 1
    with pytest.raises(NotFound, match="cust-nobody"):
        privacy.erase(CustomerRef(external_id="cust-nobody"), CLI)
    with pytest.raises(NotFound):
        privacy.export(CustomerRef(99999), CLI)


def test_purge_erases_what_is_past_the_retention_period_and_keeps_the_rest(
    privacy_desk: Runtime, two_customers: tuple[History, History]
) -> None:
    ada, bob = two_customers
    with TestClient(create_app(privacy_desk.settings, privacy_desk)) as client:
        recent = write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace")
    # Ada's first conversation ended 40 days ago and her second is today; Bob's only one, and
    # his last visit, 40 days ago too.
    old = NOW - timedelta(days=40)
    with privacy_desk.sessions.begin() as session:
        for conversation_id in (ada.conversation_id, bob.conversation_id):
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(started_at=old, last_message_at=old, closed_at=old)
            )
        session.execute(
            update(Customer).where(Customer.id == bob.customer_id).values(last_seen_at=old)
        )
        session.execute(
            update(Customer).where(Customer.id == ada.customer_id).values(last_seen_at=NOW)
        )

    assert PrivacyService(privacy_desk.sessions).purge(NOW).erasures == []  # no retention period
    consoles = Consoles()
    report = PrivacyService(privacy_desk.sessions, retention_days=30, events=consoles).purge(NOW)

    assert sorted(consoles.told) == sorted(
        [(ada.conversation_id, "erased"), (bob.conversation_id, "erased")]
    )
    assert report.cutoff == NOW - timedelta(days=30)
    assert report.conversations == 2 and report.profiles == 1
    assert {e.customer_id: "customers" in e.rows for e in report.erasures} == {
        ada.customer_id: False,
        bob.customer_id: True,
    }
    after = dump(privacy_desk.sessions)
    assert [t for t in bob.traces if t in after] == []
    # Ada's old conversation is gone; her profile and her recent conversation are kept.
    assert ada.conversation_id not in after
    assert recent.conversation_id in after
    assert "ada liked the narwhal" in after and ada.external_id in after
    with privacy_desk.sessions() as session:
        assert session.scalar(
            select(Survey.id).where(Survey.conversation_id == recent.conversation_id)
        )
        actions = session.scalars(select(PrivacyRecord.action)).all()
    assert actions == ["purge", "purge"]
    # Nothing more to do on a second run.
    assert PrivacyService(privacy_desk.sessions, retention_days=30).purge(NOW).erasures == []


def test_an_erased_customer_is_not_erased_again_by_later_purges(privacy_desk: Runtime) -> None:
    with TestClient(create_app(privacy_desk.settings, privacy_desk)) as client:
        ada = write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace")
    PrivacyService(privacy_desk.sessions, clock=lambda: NOW).erase(
        CustomerRef(ada.customer_id), CLI
    )
    # Profile refreshes compute scores for the emptied row too; they name nobody.
    ProfileService(privacy_desk.sessions).refresh()
    later = NOW + timedelta(days=400)
    assert PrivacyService(privacy_desk.sessions, retention_days=30).purge(later).erasures == []
    with privacy_desk.sessions() as session:
        assert session.scalars(select(PrivacyRecord.action)).all() == ["erase"]


def test_conversations_within_the_retention_period_are_kept(
    privacy_desk: Runtime, two_customers: tuple[History, History]
) -> None:
    ada, bob = two_customers
    # Started long ago but written in yesterday: still in use.
    with privacy_desk.sessions.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == ada.conversation_id)
            .values(
                started_at=NOW - timedelta(days=90),
                last_message_at=NOW - timedelta(days=1),
                closed_at=None,
            )
        )
    report = PrivacyService(privacy_desk.sessions, retention_days=30).purge(NOW)
    assert report.erasures == []
    after = dump(privacy_desk.sessions)
    assert all(t in after for t in ada.traces + bob.traces)


def test_the_migration_removes_sensitive_attributes_stored_before(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine, "0008")
        with engine.begin() as connection:
            connection.execute(
                insert(Customer).values(
                    external_id="cust-old",
                    attributes={"tier": "vip", "phone": "07700 900123", "home": {"address": "x"}},
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                    conversation_count=0,
                    message_count=0,
                )
            )
        migrate(engine)
        with engine.connect() as connection:
            kept = connection.scalar(select(Customer.attributes))
        assert kept == {"tier": "vip", "home": {}}
    finally:
        engine.dispose()
