"""A customer with a full history, as the privacy tests need one: signed in, several messages,
an escalation, a person's reply and correction, an action call, a closed conversation and a
survey answer; and a dump of every table to search for what an erasure must leave behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.runner import ActionResult, Outcome
from bot.conversation.service import record_call
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Base, Conversation, Customer
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.identity import identity_token
from tests.helpers.service import STAFF_PASSWORD, log_in, make_settings


def privacy_runtime(database_url: str, tmp_path: Path, knowledge_base: Path) -> Runtime:
    """The service with signed identities, the keyword-reading fake model, ``ana`` (admin) and
    ``sam`` (agent), both with the password STAFF_PASSWORD."""
    # The test settings carry the identity secret that tests.helpers.identity signs with.
    built = build_runtime(make_settings(database_url, tmp_path, knowledge_base), FakeReader())
    built.staff.create_account("ana", STAFF_PASSWORD, Role.ADMIN, "Ana Admin")
    built.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam Support")
    return built


@dataclass(frozen=True)
class History:
    customer_id: int
    external_id: str
    conversation_id: str
    # What of the customer an erasure must leave nowhere: their words, name, e-mail and ids.
    traces: tuple[str, ...]


def write_history(
    client: TestClient, sessions: sessionmaker[Session], who: str, full_name: str
) -> History:
    """``who`` (a short lower-case word) chats, asks for a person, is answered by ``sam`` and
    answers the survey; ``sam`` corrects an intent and looks something up."""
    external_id = f"cust-{who}-7731"
    email = f"{who}.private@example.org"
    started = client.post(
        "/api/conversations",
        json={
            "identity_token": identity_token(
                external_id, name=full_name, email=email, attributes={"tier": "gold"}
            )
        },
    )
    assert started.status_code == 201, started.text
    body = started.json()
    conversation_id = body["conversation_id"]
    auth = {"Authorization": f"Bearer {body['customer_token']}"}
    url = f"/api/conversations/{conversation_id}/messages"
    words = [
        f"where is my parcel {who}-zebra-parcel",
        f"my email is {email} and {who} quokka notes",
        f"I want a real person about {who} marmot",
    ]
    for number, text in enumerate(words):
        sent = client.post(
            url, json={"text": text, "client_message_id": f"{who}-client-{number}"}, headers=auth
        )
        assert sent.status_code == 200, sent.text
    staff = log_in(client, "sam")
    staff_url = f"/api/staff/conversations/{conversation_id}"
    assert client.post(f"{staff_url}/take", headers=staff).status_code == 204
    reply = client.post(
        f"{staff_url}/messages", json={"text": f"Hello {full_name}, {who} ocelot"}, headers=staff
    )
    assert reply.status_code == 200, reply.text
    detail = client.get(staff_url, headers=staff).json()
    first = next(m for m in detail["messages"] if m["role"] == "customer")
    corrected = client.put(
        f"/api/staff/messages/{first['id']}/intent",
        json={"intent": "track_order"},
        headers=staff,
    )
    assert corrected.status_code == 204, corrected.text
    with sessions.begin() as session:
        record_call(
            session,
            conversation_id,
            ActionResult("order_status", Outcome.FOUND, "found", status_code=200, latency_ms=3.5),
            staff_id=client.get("/api/staff/me", headers=staff).json()["id"],
        )
    assert client.post(f"/api/conversations/{conversation_id}/end", headers=auth).status_code == 204
    survey = client.post(
        f"/api/conversations/{conversation_id}/survey",
        json={"csat": 4, "nps": 9, "comment": f"{who} liked the narwhal answer"},
        headers=auth,
    )
    assert survey.status_code == 204, survey.text
    return History(
        body["customer_id"],
        external_id,
        conversation_id,
        (
            external_id,
            full_name,
            email,
            conversation_id,
            f"{who}-client-",
            f"{who}-zebra",
            f"{who} quokka",
            f"{who} marmot",
            f"{who} ocelot",
            f"{who} liked the narwhal",
        ),
    )


def dump(sessions: sessionmaker[Session]) -> str:
    """Every row of every table, as text."""
    lines = []
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                lines.append(f"{table.name}: {dict(row)}")
    return "\n".join(lines)


def last_active_at(sessions: sessionmaker[Session], history: History, when: datetime) -> None:
    """As if ``history``'s conversation was started, written in and closed at ``when``, and its
    customer last seen then: what the retention period reads."""
    with sessions.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == history.conversation_id)
            .values(started_at=when, last_message_at=when, closed_at=when)
        )
        session.execute(
            update(Customer).where(Customer.id == history.customer_id).values(last_seen_at=when)
        )
