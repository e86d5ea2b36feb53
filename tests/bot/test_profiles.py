"""Customer profiles: churn risk, lifecycle, lifetime value and segments from the history, the
commands that refit and cluster them, and what staff see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.app import create_app
from bot.cli import main
from bot.runtime import Runtime, build_runtime
from bot.services.staff import Role
from bot.storage.models import Customer, utcnow
from tests.conftest import make_settings
from tests.fakes import FakeReader

PASSWORD = "correct horse battery"


@pytest.fixture
def shop(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeReader())
    built.staff.create_account("sam", PASSWORD, Role.AGENT)
    yield built
    built.close()


@pytest.fixture
def client(shop: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(shop.settings, shop)) as test_client:
        yield test_client


def visit(client: TestClient, external_id: str, texts: list[str], **attributes: Any) -> str:
    customer = {"external_id": external_id, "attributes": attributes}
    started = client.post("/api/conversations", json={"customer": customer}).json()
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


def test_scores_follow_the_history(client: TestClient, shop: Runtime) -> None:
    visit(client, "happy", ["where is my parcel", "great, thanks"], spend=600, order_count=12)
    visit(client, "unhappy", ["my parcel is still late", "awful"], spend=600, order_count=12)
    visit(client, "unhappy", ["this is useless"], spend=600, order_count=12)  # refreshed again
    happy, unhappy = profile(shop, "happy"), profile(shop, "unhappy")
    assert happy.lifecycle_stage == "new" and unhappy.lifecycle_stage == "at_risk"
    assert happy.churn_risk is not None and unhappy.churn_risk is not None
    assert happy.churn_risk < 0.2 < 0.5 <= unhappy.churn_risk
    # Spend per year (a month's history counts as a month) times expected years left.
    assert happy.lifetime_value is not None and unhappy.lifetime_value is not None
    assert happy.lifetime_value > unhappy.lifetime_value > 0

    with shop.sessions.begin() as session:
        session.execute(
            update(Customer)
            .where(Customer.external_id == "happy")
            .values(first_seen_at=utcnow() - timedelta(days=400))
        )
    shop.profiles_refresh = None  # nothing cached: the next command reads the database
    assert (
        main(["refresh-profiles"], environ={"CXAGENT_DATABASE_URL": shop.settings.database_url})
        == 0
    )
    assert profile(shop, "happy").lifecycle_stage == "active"
    visit(client, "gone", ["hello"], churned=True)
    assert profile(shop, "gone").lifecycle_stage == "churned"


def test_computed_churn_risk_feeds_the_escalation_rules(client: TestClient, shop: Runtime) -> None:
    conversation = visit(client, "leaving", ["my parcel is still late"])
    agent = {"Authorization": "Bearer " + client.post(
        "/api/staff/login", json={"username": "sam", "password": PASSWORD}
    ).json()["token"]}  # fmt: skip
    # One negative message: no rule fires for a customer with no history.
    assert client.get("/api/staff/queue", headers=agent).json() == []
    # After many unhappy visits the computed churn risk passes 0.7: a negative message escalates.
    for _ in range(3):
        visit(client, "leaving", ["useless", "awful"])
    assert (profile(shop, "leaving").churn_risk or 0) >= 0.7
    visit(client, "leaving", ["my password is useless"])
    queue = client.get("/api/staff/queue", headers=agent).json()
    assert [item["queue"] for item in queue if item["conversation_id"] != conversation][-1] in {
        "retention", "general",
    }  # fmt: skip
    detail = client.get(f"/api/staff/conversations/{queue[0]['conversation_id']}", headers=agent)
    seen = detail.json()["customer"]
    assert seen["lifecycle_stage"] == "at_risk" and seen["churn_risk"] >= 0.7
    assert seen["top_intents"][0] in {"password_reset", "track_order"}
    assert seen["sentiment_tendency"] < 0 and seen["channels"] == ["web"]


def test_churn_is_refitted_from_reported_outcomes(
    client: TestClient, shop: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": shop.settings.database_url}
    assert main(["fit-churn"], environ=environ) == 2
    assert "at least 20" in capsys.readouterr().err
    for number in range(12):
        visit(client, f"stay-{number}", ["where is my parcel", "great"], churned=False,
              order_count=5 + number)  # fmt: skip
        visit(client, f"left-{number}", ["my parcel is still late"], churned=True, order_count=1)
    assert main(["fit-churn"], environ=environ) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["customers"] == 24 and report["metrics"]["churned"] == 12
    assert report["metrics"]["auc_fitted"] >= 0.9


def test_segments_separate_big_spenders_from_occasional_buyers(
    client: TestClient, shop: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(6):
        visit(client, f"big-{number}", ["where is my parcel"], spend=5000 + number, order_count=40)
        visit(client, f"small-{number}", ["how can I pay"], spend=20 + number, order_count=1)
    environ = {"CXAGENT_DATABASE_URL": shop.settings.database_url}
    assert main(["segment", "--k", "2"], environ=environ) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all(line.split()[0] == "6" for line in printed)
    big = {profile(shop, f"big-{n}").segment for n in range(6)}
    small = {profile(shop, f"small-{n}").segment for n in range(6)}
    assert len(big) == len(small) == 1 and big != small
    assert "high spend" in big.pop()  # type: ignore[operator]
