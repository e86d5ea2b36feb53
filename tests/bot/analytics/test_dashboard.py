"""The console's dashboard figures, counted from real conversations: resolved without a person,
escalations by reason, satisfaction, sentiment, top intents and unanswered questions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.analytics.dashboard import DashboardService
from bot.runtime import Runtime
from bot.storage.models import ActionCall, Staff, utcnow
from tests.helpers.service import escalated_conversation, log_in


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    """This module's client talks to the staff desk (tests/bot/conftest.py)."""
    return desk_client


def customer_says(client: TestClient, *texts: str) -> str:
    started = client.post("/api/conversations", json={}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    for text in texts:
        response = client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": text},
            headers=auth,
        )
        assert response.status_code == 200, response.text
    return str(started["conversation_id"])


def dashboard_at(desk: Runtime, moment: datetime) -> DashboardService:
    """The desk's dashboard with its clock held at ``moment``."""
    return DashboardService(desk.sessions, desk.satisfaction, clock=lambda: moment)


def test_the_dashboard_counts_what_happened(client: TestClient, desk: Runtime) -> None:
    customer_says(client, "where is my parcel", "thanks, great")
    customer_says(client, "what is the weather like", "What is the  WEATHER like")
    client.post("/api/conversations", json={})  # opened, never used: not a conversation
    escalated, customer = escalated_conversation(client)
    agent = log_in(client, "sam")
    client.post(f"/api/staff/conversations/{escalated}/take", headers=agent)
    client.post(
        f"/api/staff/conversations/{escalated}/messages", json={"text": "Hi"}, headers=agent
    )
    client.post(f"/api/staff/conversations/{escalated}/close", headers=agent)
    survey = {"csat": 5, "nps": 10, "ces": 6}
    client.post(f"/api/conversations/{escalated}/survey", json=survey, headers=customer)

    # The dashboard's "now": a moment after everything above, held still from here on.
    now = utcnow()
    desk.dashboard = dashboard_at(desk, now)
    response = client.get("/api/staff/dashboard?days=7", headers=agent)
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["totals"] == {"conversations": 3, "messages": 6, "surveys": 1, "escalations": 1}
    assert figures["resolution"] == {"conversations": 3, "without_person": 2, "share": 2 / 3}
    today = now.date().isoformat()
    assert figures["resolution_by_day"] == [{"day": today, "conversations": 3, "without_person": 2}]
    assert figures["satisfaction"] == [
        {"day": today, "responses": 1, "csat": 100.0, "nps": 100.0, "ces": 6.0}
    ]
    assert figures["satisfaction_overall"] == {
        "responses": 1,
        "csat": 100.0,
        "nps": 100.0,
        "ces": 6.0,
    }
    [reason] = figures["escalations_by_reason"]
    assert reason["count"] == 1 and "person" in reason["reason"].lower()
    [day] = figures["sentiment"]
    assert (day["negative"], day["neutral"], day["positive"]) == (0, 5, 1)
    intents = {row["intent"]: row["count"] for row in figures["top_intents"]}
    assert intents["track_order"] >= 2 and intents["human_agent"] == 1
    # The same question in other words and case counts once, most asked first.
    assert figures["unanswered"][0]["text"].lower().startswith("what is the")
    assert figures["unanswered"][0]["count"] == 2

    later = dashboard_at(desk, now + timedelta(days=3)).figures(days=1)
    assert later["totals"]["conversations"] == 0 and later["resolution"]["share"] is None
    assert later["satisfaction_overall"] == {"responses": 0, "csat": None, "nps": None, "ces": None}
    assert client.get("/api/staff/dashboard?days=0", headers=agent).status_code == 422
    assert client.get("/api/staff/dashboard").status_code == 401


def test_conversations_resolved_by_actions_without_a_person(
    client: TestClient, desk: Runtime
) -> None:
    resolved = customer_says(client, "where is my parcel BC-204518")
    missed = customer_says(client, "where is my parcel BC-999999")
    escalated, _ = escalated_conversation(client)
    looked_up = customer_says(client, "where is my parcel BC-204857")
    with desk.sessions.begin() as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.username == "sam"))
        for conversation_id, outcome, by in [
            (resolved, "found", None),
            (missed, "not_found", None),
            (escalated, "found", None),
            # A person's lookup from the console is not the bot resolving anything.
            (looked_up, "found", staff_id),
        ]:
            session.add(
                ActionCall(
                    conversation_id=conversation_id,
                    message_id=None,
                    staff_id=by,
                    action="order_status",
                    outcome=outcome,
                    status_code=200,
                    latency_ms=12.0,
                )
            )

    now = utcnow()
    desk.dashboard = dashboard_at(desk, now)
    figures = client.get("/api/staff/dashboard?days=7", headers=log_in(client, "sam")).json()
    assert figures["resolved_by_actions"] == {"conversations": 1, "share": 1 / 4}
    later = dashboard_at(desk, now + timedelta(days=3)).figures(days=1)
    assert later["resolved_by_actions"] == {"conversations": 0, "share": None}
