"""Schema and storage on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
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
