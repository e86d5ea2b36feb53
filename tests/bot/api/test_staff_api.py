"""The staff API: accounts and log-in, who may reach what, and a person taking a conversation
over from the bot, replying, handing back and closing, with every action on record."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from bot.runtime import Runtime
from bot.storage.models import Staff, StaffAction, StaffSession
from tests.helpers.service import STAFF_PASSWORD as PASSWORD
from tests.helpers.service import escalated_conversation, log_in


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    """This module's client talks to the staff desk (tests/bot/conftest.py)."""
    return desk_client


def test_passwords_are_hashed_and_wrong_ones_refused_alike(
    client: TestClient, desk: Runtime
) -> None:
    with desk.sessions() as session:
        stored = session.scalar(select(Staff).where(Staff.username == "sam"))
    assert stored is not None and PASSWORD not in stored.password_hash
    assert stored.password_hash.startswith("scrypt$")
    wrong = client.post("/api/staff/login", json={"username": "sam", "password": "nope nope nope"})
    unknown = client.post("/api/staff/login", json={"username": "zed", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    agent = log_in(client, "sam")
    assert client.get("/api/staff/me", headers=agent).json()["role"] == "agent"
    assert client.post("/api/staff/logout", headers=agent).status_code == 204
    assert client.get("/api/staff/me", headers=agent).status_code == 401


def test_only_staff_reach_staff_endpoints_and_only_admins_manage_accounts(
    client: TestClient,
) -> None:
    conversation_id, customer = escalated_conversation(client)
    for method, path in (
        ("GET", "/api/staff/queue"),
        ("GET", f"/api/staff/conversations/{conversation_id}"),
        ("POST", f"/api/staff/conversations/{conversation_id}/take"),
    ):
        assert client.request(method, path).status_code == 401
        # A customer's token is not a staff token, not even for their own conversation.
        assert client.request(method, path, headers=customer).status_code == 401
    agent = log_in(client, "sam")
    new_account = {"username": "kim", "password": PASSWORD, "role": "agent"}
    assert client.get("/api/staff/accounts", headers=agent).status_code == 403
    assert client.post("/api/staff/accounts", json=new_account, headers=agent).status_code == 403
    admin = log_in(client, "ana")
    created = client.post("/api/staff/accounts", json=new_account, headers=admin)
    assert created.status_code == 201 and created.json()["username"] == "kim"
    again = client.post("/api/staff/accounts", json=new_account, headers=admin)
    assert again.status_code == 409
    kim_id = created.json()["id"]
    kim = log_in(client, "kim")
    assert (
        client.patch(f"/api/staff/accounts/{kim_id}", json={"active": False}, headers=admin).json()[
            "active"
        ]
        is False
    )
    assert client.get("/api/staff/me", headers=kim).status_code == 401  # sessions end too
    assert [a["username"] for a in client.get("/api/staff/accounts", headers=admin).json()] == [
        "ana",
        "kim",
        "sam",
    ]


def test_a_person_takes_over_replies_hands_back_and_everything_is_recorded(
    client: TestClient, desk: Runtime
) -> None:
    conversation_id, customer = escalated_conversation(client)
    agent = log_in(client, "sam")
    (item,) = client.get("/api/staff/queue", headers=agent).json()
    assert item["conversation_id"] == conversation_id and item["status"] == "waiting"
    assert item["reason"] == "The customer asked for a person" and item["tier"] == "gold"
    assert item["customer_name"] == "Ada" and len(item["sentiment_trend"]) == 2

    detail = client.get(f"/api/staff/conversations/{conversation_id}", headers=agent).json()
    first = detail["messages"][0]
    assert (first["role"], first["intent"], first["sentiment"]) == (
        "customer",
        "track_order",
        "neutral",
    )
    assert detail["messages"][1]["decision_reason"].startswith("intent track_order at 0.90")
    assert detail["escalations"][0]["rules"][0]["rule"] == "asks_for_a_person"
    assert detail["customer"]["attributes"] == {"tier": "gold"}

    url = f"/api/staff/conversations/{conversation_id}"
    # Replying before taking it over is refused; taking it twice is a conflict.
    assert client.post(f"{url}/messages", json={"text": "Hi"}, headers=agent).status_code == 403
    assert client.post(f"{url}/take", headers=agent).status_code == 204
    admin = log_in(client, "ana")
    assert client.post(f"{url}/take", headers=admin).status_code == 409
    sent = client.post(f"{url}/messages", json={"text": "Hi Ada, Sam here."}, headers=agent)
    assert sent.status_code == 200 and sent.json()["role"] == "agent"

    # The customer sees the reply; the bot says nothing while Sam has the conversation.
    customer_url = f"/api/conversations/{conversation_id}/messages"
    assert (
        client.post(customer_url, json={"text": "thanks Sam"}, headers=customer).json()["reply"]
        is None
    )
    transcript = client.get(customer_url, headers=customer).json()
    assert [m["role"] for m in transcript["messages"]][-2:] == ["agent", "customer"]
    assert transcript["status"] == "with_agent"

    assert client.post(f"{url}/hand-back", headers=agent).status_code == 204
    back = client.post(customer_url, json={"text": "where is my parcel"}, headers=customer)
    assert back.json()["reply"]["decision"] == "intent"
    assert client.get("/api/staff/queue", headers=agent).json() == []
    assert client.post(f"{url}/close", headers=agent).status_code == 204
    assert client.post(f"{url}/take", headers=agent).status_code == 409

    with desk.sessions() as session:
        actions = session.scalars(
            select(StaffAction.action).where(StaffAction.conversation_id == conversation_id)
        ).all()
    assert actions == ["take", "reply", "hand_back", "close"]


def test_a_wrong_intent_is_corrected_and_recorded(client: TestClient, desk: Runtime) -> None:
    conversation_id, _ = escalated_conversation(client)
    agent = log_in(client, "sam")
    detail = client.get(f"/api/staff/conversations/{conversation_id}", headers=agent).json()
    message_id = detail["messages"][0]["id"]
    url = f"/api/staff/messages/{message_id}/intent"
    assert client.put(url, json={"intent": "no_such_intent"}, headers=agent).status_code == 422
    assert client.put(url, json={"intent": "return_policy"}, headers=agent).status_code == 204
    bot_message = detail["messages"][1]["id"]
    refused = client.put(
        f"/api/staff/messages/{bot_message}/intent", json={"intent": "return_policy"}, headers=agent
    )
    assert refused.status_code == 422
    after = client.get(f"/api/staff/conversations/{conversation_id}", headers=agent).json()
    assert after["messages"][0]["corrected_intent"] == "return_policy"
    with desk.sessions() as session:
        action = session.scalar(select(StaffAction).where(StaffAction.action == "correct_intent"))
    assert action is not None and action.details == {
        "predicted": "track_order",
        "previous_correction": None,
        "corrected": "return_policy",
    }


def test_passwords_change_and_end_the_other_sessions(client: TestClient, desk: Runtime) -> None:
    admin, agent = log_in(client, "ana"), log_in(client, "sam")
    sam = client.get("/api/staff/me", headers=agent).json()["id"]
    ana = client.get("/api/staff/me", headers=admin).json()["id"]
    new = {"password": "a much longer secret"}
    assert client.patch(f"/api/staff/accounts/{ana}", json=new, headers=agent).status_code == 403
    assert client.patch(f"/api/staff/accounts/{sam}", json={}, headers=admin).status_code == 422
    assert client.patch(f"/api/staff/accounts/{sam}", json=new, headers=admin).status_code == 200
    assert client.get("/api/staff/me", headers=agent).status_code == 401  # logged out
    logged_in = client.post("/api/staff/login", json={"username": "sam", **new})
    assert logged_in.status_code == 200
    own = {"Authorization": f"Bearer {logged_in.json()['token']}"}
    url, mine = f"/api/staff/accounts/{sam}", {"password": "my own new secret"}
    # One's own password changes only with the current one: an open console is not enough.
    without = client.patch(url, json=mine, headers=own)
    assert without.status_code == 422 and "current_password" in without.json()["detail"]
    wrong = client.patch(url, json={**mine, "current_password": "not it at all"}, headers=own)
    assert wrong.status_code == 403
    changed = client.patch(url, json={**mine, "current_password": new["password"]}, headers=own)
    assert (
        changed.status_code == 200 and client.get("/api/staff/me", headers=own).status_code == 200
    )
    assert client.post("/api/staff/login", json={"username": "sam", **mine}).status_code == 200
    # An admin's reset of another's password is on record as such; one's own change too.
    with desk.sessions() as session:
        actions = session.scalars(
            select(StaffAction.action).where(StaffAction.action.like("%_password"))
        ).all()
    assert actions == ["reset_password", "set_password"]


def test_a_fresh_install_gets_one_admin_account(desk: Runtime) -> None:
    # The desk already has accounts: nothing is created.
    assert desk.staff.ensure_first_admin() is None
    with desk.sessions.begin() as session:
        session.execute(delete(StaffAction))
        session.execute(delete(StaffSession))
        session.execute(delete(Staff))
    password = desk.staff.ensure_first_admin()
    assert password is not None and len(password) >= 12
    assert desk.staff.log_in("admin", password).member.role == "admin"
    assert desk.staff.ensure_first_admin() is None


def test_every_conversation_can_be_listed_escalated_first_then_the_latest(
    client: TestClient,
) -> None:
    agent = log_in(client, "sam")
    quiet, active = (client.post("/api/conversations", json={}).json() for _ in range(2))
    for started in (quiet, active):
        client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": "where is my parcel"},
            headers={"Authorization": f"Bearer {started['customer_token']}"},
        )
    client.post(
        f"/api/conversations/{active['conversation_id']}/messages",
        json={"text": "thanks"},
        headers={"Authorization": f"Bearer {active['customer_token']}"},
    )
    escalated, _ = escalated_conversation(client)
    everything = client.get(
        "/api/staff/queue?status=bot&status=waiting&status=with_agent&status=closed",
        headers=agent,
    ).json()
    assert [item["conversation_id"] for item in everything] == [
        escalated,
        active["conversation_id"],
        quiet["conversation_id"],
    ]
    assert client.get("/api/staff/queue", headers=agent).json()[0]["conversation_id"] == escalated


def test_logging_out_needs_a_token_that_is_valid(client: TestClient) -> None:
    agent = log_in(client, "sam")
    assert client.post("/api/staff/logout", headers=agent).status_code == 204
    again = client.post("/api/staff/logout", headers=agent)
    assert again.status_code == 401
    assert "unknown or has expired" in again.json()["detail"]
    forged = client.post("/api/staff/logout", headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401
