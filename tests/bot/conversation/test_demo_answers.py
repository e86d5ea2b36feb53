"""The product as shipped: demo knowledge base, bundled model and demo NLU bundle, over HTTP."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import DEMO_DIR, Settings
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Message

pytestmark = pytest.mark.real_model


@pytest.fixture
def demo_runtime(served_encoder, tmp_path: Path) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    # The knowledge base's answers; actions (the company's API) have test_actions_in_chat.py.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/demo.db", index_dir=tmp_path / "index", actions=None
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    yield runtime
    runtime.close()


@pytest.fixture
def demo_client(demo_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(demo_runtime.settings, demo_runtime)) as client:
        yield client


def last_customer_message(runtime: Runtime) -> Message:
    with runtime.sessions() as session:
        return session.scalars(
            select(Message).where(Message.role == "customer").order_by(Message.id.desc())
        ).first()  # type: ignore[return-value]


def heldout() -> list[dict[str, str]]:
    with (DEMO_DIR / "heldout_questions.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_heldout_questions_get_their_entry_with_slots_filled(demo_client: TestClient) -> None:
    started = demo_client.post(
        "/api/conversations", json={"customer": {"external_id": "demo-1", "name": "Priya"}}
    ).json()
    url = f"/api/conversations/{started['conversation_id']}/messages"
    auth = {"Authorization": f"Bearer {started['customer_token']}"}

    hello = demo_client.post(url, json={"text": "Hello!"}, headers=auth).json()["reply"]
    assert hello["entry_id"] == "greeting.hello"
    assert hello["text"].startswith("Hi Priya, welcome to Brightcart")

    track = demo_client.post(
        url, json={"text": "where is my order BC-204518?"}, headers=auth
    ).json()["reply"]
    assert track["entry_id"] == "track_order.where_is_my_order"
    assert track["text"].startswith("Hi Priya, you can follow order BC-204518 under My Account")

    rows = heldout()[::10]
    right = 0
    for row in rows:
        # Each in a conversation of its own, as customers ask them: one conversation full of
        # complaints would rightly be escalated.
        fresh = demo_client.post("/api/conversations", json={}).json()
        answer = demo_client.post(
            f"/api/conversations/{fresh['conversation_id']}/messages",
            json={"text": row["text"]},
            headers={"Authorization": f"Bearer {fresh['customer_token']}"},
        ).json()["reply"]
        right += answer["entry_id"] == row["entry_id"]
        assert answer["decision"] in {"intent", "answer", "clarify"}, row
        assert "{" not in answer["text"]
    # Every tenth held-out question; the full set is measured by `python -m benchmarks.retrieval`.
    assert right >= 0.8 * len(rows)


def test_out_of_scope_chatter_is_not_answered_with_a_guess(
    demo_client: TestClient, demo_runtime: Runtime
) -> None:
    started = demo_client.post("/api/conversations", json={}).json()
    url = f"/api/conversations/{started['conversation_id']}/messages"
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    decisions = []
    for question in (
        "what is the boiling point of mercury in kelvin",
        "can you recommend a good film for tonight",
    ):
        turn = demo_client.post(url, json={"text": question}, headers=auth).json()
        assert last_customer_message(demo_runtime).out_of_scope is True, question
        decisions.append(turn["reply"]["decision"])
    # The second miss in a row comes with the offer of a person.
    assert decisions == ["out_of_scope", "offer_person"]


def test_every_message_carries_intent_and_sentiment(
    demo_client: TestClient, demo_runtime: Runtime
) -> None:
    started = demo_client.post("/api/conversations", json={}).json()
    url = f"/api/conversations/{started['conversation_id']}/messages"
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    text = "This is the third time I'm asking, my refund still hasn't arrived!"
    demo_client.post(url, json={"text": text}, headers=auth)
    angry = last_customer_message(demo_runtime)
    assert angry.intent == "refund_status" and (angry.intent_confidence or 0) > 0.5
    assert angry.sentiment == "negative" and (angry.sentiment_score or 0) < 0
    assert angry.out_of_scope is False
    demo_client.post(url, json={"text": "brilliant, thank you so much for your help"}, headers=auth)
    happy = last_customer_message(demo_runtime)
    assert happy.intent == "thanks" and happy.sentiment == "positive"
