"""Shared fixtures: a fake encoder, a small knowledge base, databases (SQLite and PostgreSQL),
and the real base model loaded once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from tests.fakes import FakeEncoder

POSTGRES_URL = os.environ.get(
    "CXAGENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
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


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def mini_kb_path(tmp_path: Path) -> Path:
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(MINI_KB, sort_keys=False), encoding="utf-8")
    return path


def _postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, dropped afterwards."""
    try:
        admin = create_engine(POSTGRES_URL)
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(error.orig).strip()}"
        if IN_CI:
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message)
    schema = f"cxtest_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cxagent.db"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cxagent.db"


def make_settings(
    database_url: str, tmp_path: Path, knowledge_base: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "knowledge_base": knowledge_base,
        "index_dir": tmp_path / "index",
        "answer_threshold": 0.3,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def runtime(
    database_url: str, tmp_path: Path, mini_kb_path: Path, fake_encoder: FakeEncoder
) -> Iterator[Runtime]:
    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=fake_encoder)
    yield built
    built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime)) as test_client:
        yield test_client


STAFF_PASSWORD = "correct horse battery"


@pytest.fixture
def reader_runtime(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service with the keyword-reading fake NLU model, the demo escalation rules and one
    agent account, ``sam`` (password STAFF_PASSWORD)."""
    from bot.support.accounts import Role
    from tests.fakes import FakeReader

    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeReader())
    built.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam")
    yield built
    built.close()


@pytest.fixture
def reader_client(reader_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(reader_runtime.settings, reader_runtime)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def served_encoder():  # type: ignore[no-untyped-def]
    """What `cxagent serve` runs by default: the demo NLU bundle on the bundled
    all-MiniLM-L6-v2, loaded once for the whole test session."""
    from bot.config import Settings
    from bot.runtime import served_encoder as load

    return load(Settings())
