"""Customer profiles: churn risk, lifecycle, lifetime value and segments from the history, the
commands that refit and cluster them, and what staff see."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import Customer, utcnow
from tests.helpers.identity import start_body
from tests.helpers.service import STAFF_PASSWORD


def visit(client: TestClient, external_id: str, texts: list[str], **attributes: Any) -> str:
    customer = {"external_id": external_id, "attributes": attributes}
    started = client.post("/api/conversations", json=start_body(customer)).json()
    for text in texts:
        client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {started['customer_token']}"},
        )
    return str(started["conversation_id"])


def profile(shop: Runtime, external_id: str) -> Customer:
    with shop.sessions() as session:
        row = session.scalar(select(Customer).where(Customer.external_id == external_id))
        assert row is not None
        return row


def test_scores_follow_the_history(reader_client: TestClient, reader_runtime: Runtime) -> None:
    visit(
        reader_client, "happy", ["where is my parcel", "great, thanks"], spend=600, order_count=12
    )
    visit(reader_client, "unhappy", ["my parcel is still late", "awful"], spend=600, order_count=12)
    visit(
        reader_client, "unhappy", ["this is useless"], spend=600, order_count=12
    )  # refreshed again
    happy, unhappy = profile(reader_runtime, "happy"), profile(reader_runtime, "unhappy")
    assert happy.lifecycle_stage == "new" and unhappy.lifecycle_stage == "at_risk"
    assert happy.churn_risk is not None and unhappy.churn_risk is not None
    assert happy.churn_risk < 0.2 < 0.5 <= unhappy.churn_risk
    # Spend per year (a month's history counts as a month) times expected years left.
    assert happy.lifetime_value is not None and unhappy.lifetime_value is not None
    assert happy.lifetime_value > unhappy.lifetime_value > 0

    with reader_runtime.sessions.begin() as session:
        session.execute(
            update(Customer)
            .where(Customer.external_id == "happy")
            .values(first_seen_at=utcnow() - timedelta(days=400))
        )
    environ = {"CXAGENT_DATABASE_URL": reader_runtime.settings.database_url}
    assert main(["refresh-profiles"], environ=environ) == 0
    assert profile(reader_runtime, "happy").lifecycle_stage == "active"
    visit(reader_client, "gone", ["hello"], churned=True)
    assert profile(reader_runtime, "gone").lifecycle_stage == "churned"


def test_computed_churn_risk_feeds_the_escalation_rules(
    reader_client: TestClient, reader_runtime: Runtime
) -> None:
    conversation = visit(reader_client, "leaving", ["my parcel is still late"])
    agent = {"Authorization": "Bearer " + reader_client.post(
        "/api/staff/login", json={"username": "sam", "password": STAFF_PASSWORD}
    ).json()["token"]}  # fmt: skip
    # One negative message: no rule fires for a customer with no history.
    assert reader_client.get("/api/staff/queue", headers=agent).json() == []
    # After many unhappy visits the computed churn risk passes 0.7: a negative message escalates.
    for _ in range(3):
        visit(reader_client, "leaving", ["useless", "awful"])
    assert (profile(reader_runtime, "leaving").churn_risk or 0) >= 0.7
    visit(reader_client, "leaving", ["my password is useless"])
    queue = reader_client.get("/api/staff/queue", headers=agent).json()
    assert [item["queue"] for item in queue if item["conversation_id"] != conversation][-1] in {
        "retention", "general",
    }  # fmt: skip
    detail = reader_client.get(
        f"/api/staff/conversations/{queue[0]['conversation_id']}", headers=agent
    )
    seen = detail.json()["customer"]
    assert seen["lifecycle_stage"] == "at_risk" and seen["churn_risk"] >= 0.7
    assert seen["top_intents"][0] in {"password_reset", "track_order"}
    assert seen["sentiment_tendency"] < 0 and seen["channels"] == ["web"]


def test_churn_is_refitted_from_reported_outcomes(
    reader_client: TestClient, reader_runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": reader_runtime.settings.database_url}
    assert main(["fit-churn"], environ=environ) == 2
    assert "at least 20" in capsys.readouterr().err
    for number in range(12):
        visit(reader_client, f"stay-{number}", ["where is my parcel", "great"], churned=False,
              order_count=5 + number)  # fmt: skip
        visit(
            reader_client,
            f"left-{number}",
            ["my parcel is still late"],
            churned=True,
            order_count=1,
        )
    assert main(["fit-churn"], environ=environ) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["customers"] == 24 and report["metrics"]["churned"] == 12
    assert report["metrics"]["auc_fitted"] >= 0.9


def test_segments_separate_big_spenders_from_occasional_buyers(
    reader_client: TestClient, reader_runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(6):
        visit(
            reader_client,
            f"big-{number}",
            ["where is my parcel"],
            spend=5000 + number,
            order_count=40,
        )
        visit(reader_client, f"small-{number}", ["how can I pay"], spend=20 + number, order_count=1)
    environ = {"CXAGENT_DATABASE_URL": reader_runtime.settings.database_url}
    assert main(["segment", "--k", "2"], environ=environ) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all(line.split()[0] == "6" for line in printed)
    big = {profile(reader_runtime, f"big-{n}").segment for n in range(6)}
    small = {profile(reader_runtime, f"small-{n}").segment for n in range(6)}
    assert len(big) == len(small) == 1 and big != small
    assert "high spend" in big.pop()  # type: ignore[operator]
