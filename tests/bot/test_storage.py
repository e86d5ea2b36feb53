"""Schema and storage on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.db import (
    DatabaseUnavailable,
    check_database,
    create_db_engine,
    create_session_factory,
    downgrade,
    migrate,
)
from bot.storage.models import Base, Conversation, Customer, Message
from tests.helpers.service import POSTGRES_URL


def test_migrations_build_exactly_the_models_and_undo_cleanly(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert {"customers", "conversations", "messages"} <= set(inspect(engine).get_table_names())
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    engine.dispose()


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a freshly migrated database."""
    engine = create_db_engine(database_url)
    migrate(engine)
    yield create_session_factory(engine)
    engine.dispose()


def test_rows_round_trip_with_utc_times_and_json(sessions: sessionmaker[Session]) -> None:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    with sessions.begin() as session:
        customer = Customer(external_id="x-1", attributes={"tier": "vip", "spend": 1200.5})
        conversation = Conversation(
            id="c" * 32, customer=customer, token_hash="0" * 64, slots={"order_id": "BC-1"}
        )
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation=conversation,
                customer_id=customer.id,
                role="customer",
                text="hi",
                created_at=moment,
            )
        )
    with sessions() as session:
        message = session.scalars(select(Message)).one()
        assert message.created_at == moment and message.created_at.tzinfo is not None
        stored = session.scalars(select(Customer)).one()
        assert stored.attributes == {"tier": "vip", "spend": 1200.5}
        assert session.get(Conversation, "c" * 32).slots == {"order_id": "BC-1"}  # type: ignore[union-attr]
    with pytest.raises(StatementError, match="naive"), sessions.begin() as session:
        session.add(Customer(first_seen_at=datetime(2026, 1, 1)))


def test_a_client_message_id_is_unique_within_a_conversation(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        customer = Customer()
        conversation = Conversation(id="d" * 32, customer=customer, token_hash="0" * 64)
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation=conversation,
                customer_id=customer.id,
                role="customer",
                text="a",
                client_message_id="m1",
            )
        )
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(
            Message(
                conversation_id="d" * 32,
                customer_id=customer.id,
                role="customer",
                text="b",
                client_message_id="m1",
            )
        )


def test_an_unreachable_database_is_one_clear_line() -> None:
    engine = create_db_engine("postgresql+psycopg://someone:secret@127.0.0.1:1/cx")
    with pytest.raises(DatabaseUnavailable) as error:
        check_database(engine)
    message = str(error.value)
    assert message.startswith(
        "cannot reach the database at postgresql+psycopg://someone:***@127.0.0.1:1/cx"
    )
    assert "\n" not in message and "secret" not in message


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(backend_pid: int) -> None:
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
    admin.dispose()


@pytest.mark.postgres
def test_an_idle_connection_the_database_dropped_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = create_db_engine(POSTGRES_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(first)  # as a restarted database or a firewall does to an idle connection
        monkeypatch.setattr("bot.storage.db.PING_AFTER_IDLE_SECONDS", 0.0)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_dropped_while_in_use_fails_one_request_and_the_pool_renews() -> None:
    # Not pinged: it was used moments ago, and a ping on every checkout cost each chat turn a
    # round trip. The request fails (a 503 to a client) and the next one gets a new connection.
    engine = create_db_engine(POSTGRES_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        with pytest.raises(OperationalError) as failed:
            _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
