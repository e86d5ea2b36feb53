"""The service under test: its settings, the small knowledge base, the staff password, and the
API steps many tests take (a staff log-in, a conversation escalated to a person)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import Settings
from bot.runtime import Runtime
from tests.helpers.identity import TEST_IDENTITY_SECRET, start_body

POSTGRES_URL = os.environ.get(
    "CXAGENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CXAGENT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

MINI_KB: dict[str, Any] = {
    "company": "Testshop",
    "entries": [
        {
            "id": "track_order.where",
            "intent": "track_order",
            "questions": ["Where is my order?", "Track my parcel", "Has my package shipped yet?"],
            "answer": "Hi {customer_name}, order {order_id} is on its way.",
            "fallback": "Your order is on its way; see My Account > Orders.",
        },
        {
            "id": "returns.policy",
            "intent": "return_policy",
            "questions": [
                "What is your return policy?",
                "Can I return an item?",
                "How long do I have to send something back?",
            ],
            "answer": "You can return items within 30 days.",
        },
        {
            "id": "payment.methods",
            "intent": "payment_methods",
            "questions": [
                "Which payment methods do you accept?",
                "Can I pay with PayPal?",
                "Do you take credit cards?",
            ],
            "answer": "We accept cards, PayPal and gift cards.",
        },
        {
            "id": "account.password",
            "intent": "password_reset",
            "questions": [
                "I forgot my password",
                "Reset my password",
                "Cannot log in to my account password",
            ],
            "answer": "We sent a reset link to {email}.",
            "fallback": "Use 'Forgot password' on the sign-in page to get a reset link.",
        },
    ],
}


def make_settings(
    database_url: str, tmp_path: Path, knowledge_base: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "knowledge_base": knowledge_base,
        "index_dir": tmp_path / "index",
        "answer_threshold": 0.3,
        # The small knowledge base's tests are about answers; actions have tests of their own.
        "actions": None,
        # The site signs its customers (tests.helpers.identity); anonymous visitors need nothing.
        "identity_secret": TEST_IDENTITY_SECRET,
    }
    values.update(overrides)
    return Settings(**values)


STAFF_PASSWORD = "correct horse battery"
"""The password of the staff accounts the fixtures create."""


def log_in(client: TestClient, username: str) -> dict[str, str]:
    """A staff member's authorisation header (the account's password is STAFF_PASSWORD)."""
    response = client.post(
        "/api/staff/login", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def first_turn(client: TestClient, text: str) -> Any:
    """An anonymous customer's new conversation and its first message: the turn's response (the
    test client's, of its httpx fork)."""
    started = client.post("/api/conversations", json={}).json()
    return client.post(
        f"/api/conversations/{started['conversation_id']}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    )


def escalated_conversation(client: TestClient) -> tuple[str, dict[str, str]]:
    """A gold-tier customer's conversation (signed by the site) that asked for a person: (its
    id, the customer's authorisation header)."""
    ada = {"external_id": f"ada-{uuid.uuid4().hex}", "name": "Ada", "attributes": {"tier": "gold"}}
    started = client.post("/api/conversations", json=start_body(ada)).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    url = f"/api/conversations/{started['conversation_id']}/messages"
    client.post(url, json={"text": "where is my parcel"}, headers=auth)
    reply = client.post(url, json={"text": "I want a real person"}, headers=auth).json()["reply"]
    assert reply["decision"] == "handoff"
    return started["conversation_id"], auth


@contextmanager
def database_at(runtime: Runtime, engine: Engine) -> Iterator[None]:
    """The runtime's database reached through ``engine`` for a while (one that refuses
    connections, a pool of one): its sessions and the chat turn's own connections alike."""
    runtime.sessions.configure(bind=engine)
    runtime.chat.engine = engine
    try:
        yield
    finally:
        runtime.sessions.configure(bind=runtime.engine)
        runtime.chat.engine = runtime.engine
