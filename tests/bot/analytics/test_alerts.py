"""The negative-sentiment alert across all traffic, over the staff API and as a metric."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.analytics.alerts import AlertService
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Conversation, Customer, Message
from bot.support.accounts import Role
from tests.fakes import FakeEncoder
from tests.helpers.service import make_settings

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    built = build_runtime(
        make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeEncoder()
    )
    built.staff.create_account("sam", "correct horse battery", Role.AGENT)
    # The alert's windows end at NOW, whatever the time of the run.
    built.alerts = AlertService(built.sessions, clock=lambda: NOW)
    yield built
    built.close()


def add_messages(runtime: Runtime, hours_ago: float, negative: int, other: int) -> None:
    when = NOW - timedelta(hours=hours_ago)
    with runtime.sessions.begin() as session:
        customer = Customer()
        conversation = Conversation(id=uuid.uuid4().hex, customer=customer, token_hash="x" * 64)
        session.add(conversation)
        session.flush()
        for count, sentiment in ((negative, "negative"), (other, "neutral")):
            for _ in range(count):
                session.add(
                    Message(
                        conversation=conversation,
                        customer_id=customer.id,
                        role="customer",
                        text="…",
                        created_at=when,
                        sentiment=sentiment,
                    )
                )


def test_a_surge_of_negative_messages_raises_the_alert(runtime: Runtime) -> None:
    add_messages(runtime, hours_ago=30, negative=10, other=90)  # the usual: 10%
    add_messages(runtime, hours_ago=0.2, negative=3, other=27)  # the last hour: 10%
    calm = runtime.alerts.negative_sentiment()
    assert not calm.alert and calm.baseline_share == pytest.approx(0.1)
    assert calm.recent_messages == 30 and calm.recent_share == pytest.approx(0.1)
    add_messages(runtime, hours_ago=0.1, negative=17, other=3)  # now 20 of 50: 40%
    surge = runtime.alerts.negative_sentiment()
    assert surge.alert and surge.recent_share == pytest.approx(0.4)
    assert "40% of the last hour's 50 messages" in surge.reason

    scraped = runtime.settings.model_copy(update={"metrics_token": SecretStr("scrape")})
    with TestClient(create_app(scraped, runtime)) as client:
        token = client.post(
            "/api/staff/login", json={"username": "sam", "password": "correct horse battery"}
        ).json()["token"]
        shown = client.get(
            "/api/staff/alerts/sentiment", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert shown["alert"] is True and shown["recent_messages"] == 50
        metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape"}).text
    assert "cxagent_negative_sentiment_alert 1" in metrics
    assert 'cxagent_negative_sentiment_share{window="last_hour"} 0.4000' in metrics
    assert 'cxagent_messages_total{role="customer"} 150' in metrics


def test_a_few_unhappy_messages_in_a_quiet_hour_are_not_an_incident(runtime: Runtime) -> None:
    add_messages(runtime, hours_ago=30, negative=5, other=95)
    add_messages(runtime, hours_ago=0.5, negative=3, other=2)
    quiet = runtime.alerts.negative_sentiment()
    assert not quiet.alert and "fewer than 20" in quiet.reason


def test_a_fresh_install_cannot_raise_the_alert_and_says_why(runtime: Runtime) -> None:
    # A busy first hour, mostly unhappy, and no week before it to compare with.
    add_messages(runtime, hours_ago=0.2, negative=30, other=10)
    fresh = runtime.alerts.negative_sentiment()
    assert not fresh.alert and not fresh.enough_history
    assert fresh.recent_share == pytest.approx(0.75)
    assert fresh.reason.startswith("not enough history yet: 0 customer messages")
    add_messages(runtime, hours_ago=30, negative=10, other=90)  # a week's worth now
    seasoned = runtime.alerts.negative_sentiment()
    assert seasoned.enough_history and seasoned.alert
