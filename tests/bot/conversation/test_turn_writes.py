"""Writing a chat turn (bot.conversation.turn_writes): on PostgreSQL in one statement, elsewhere
in statements in a transaction; every row the same either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, event, select

from bot.conversation.identity import CustomerIdentity
from bot.conversation.turn_writes import (
    ONE_STATEMENT_DIALECTS,
    TurnRows,
    WriteTurn,
    write_in_one_statement,
    write_in_statements,
)
from bot.messages import MessageRole
from bot.runtime import Runtime
from bot.storage.models import ActionCall, Conversation, Customer, Escalation, Message

WHEN = datetime(2026, 12, 3, 12, 30, tzinfo=UTC)


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The statements this thread sends to the database from now on."""
    sent: list[str] = []
    here = threading.get_ident()

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == here:
            sent.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", note)
    yield sent
    event.remove(runtime.engine, "before_cursor_execute", note)


def test_a_turn_is_read_and_written_in_two_statements_on_postgresql(
    runtime: Runtime, statements: list[str]
) -> None:
    started = runtime.chat.start_conversation(CustomerIdentity())
    statements.clear()
    turn = runtime.chat.post_message(
        started.conversation_id, started.customer_token, "how do I return an item?", "m-1"
    )
    assert turn.reply is not None and turn.reply.id > turn.message.id
    if runtime.engine.dialect.name == "postgresql":
        read, written = statements
        assert written.lstrip().startswith("WITH")
    else:
        # The read, then the two messages and the two updates in a transaction of their own.
        assert len(statements) == 5
    transcript = runtime.chat.transcript(started.conversation_id, started.customer_token)
    assert [message.id for message in transcript.messages] == [turn.message.id, turn.reply.id]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_only_the_turns_own_statements(runtime: Runtime) -> None:
    """Traced by SQLite itself, which sees what SQLAlchemy's events do not (a dialect's own
    PRAGMAs): the read, then the writes in a transaction. Switching the connection's isolation
    level around the read cost PRAGMAs on every turn."""
    started = runtime.chat.start_conversation(CustomerIdentity())
    ran: list[str] = []

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(ran.append)

    event.listen(runtime.engine, "checkout", trace)
    try:
        runtime.chat.post_message(started.conversation_id, started.customer_token, "hello", "m-1")
    finally:
        event.remove(runtime.engine, "checkout", trace)
    verbs = [statement.split()[0].upper() for statement in ran]
    assert verbs == ["SELECT", "BEGIN", "INSERT", "INSERT", "UPDATE", "UPDATE", "COMMIT"]


def full_turn(conversation_id: str, customer_id: int) -> TurnRows:
    """A turn that writes every part: a reply, two calls, a hand-over, and changes to the
    conversation and the customer."""
    return TurnRows(
        conversation_id=conversation_id,
        customer_id=customer_id,
        message={
            "role": MessageRole.CUSTOMER,
            "text": "where is BC-204518? I want a person",
            "created_at": WHEN,
            "client_message_id": "c-1",
            "intent": "track_order",
            "questions": [{"text": "where is BC-204518?"}],
        },
        reply={
            "role": MessageRole.BOT,
            "text": "It left the warehouse yesterday.",
            "created_at": WHEN,
            "entry_id": "track_order.where_is_my_order",
            "decision": "handoff",
        },
        calls=(
            _call(conversation_id, "verify_customer", "found"),
            _call(conversation_id, "order_status", "failed", error="timed out"),
        ),
        escalation={
            "conversation_id": conversation_id,
            "created_at": WHEN,
            "queue": "orders",
            "priority": 2,
            "reason": "The customer asked for a person",
            "rules": [{"rule": "asks_for_a_person", "why": "intent human_agent"}],
        },
        conversation={"status": "waiting", "queue": "orders", "last_message_at": WHEN},
        customer={"last_seen_at": WHEN, "name": "Ada"},
    )


def _call(
    conversation_id: str, action: str, outcome: str, error: str | None = None
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "action": action,
        "outcome": outcome,
        "status_code": None if error else 200,
        "latency_ms": 12.5,
        "error": error,
        "created_at": WHEN,
    }


def writers(runtime: Runtime) -> list[WriteTurn]:
    if runtime.engine.dialect.name in ONE_STATEMENT_DIALECTS:
        return [write_in_one_statement, write_in_statements]
    return [write_in_statements]


def test_every_part_of_a_turn_is_written_as_given_in_one_statement_and_in_statements(
    runtime: Runtime,
) -> None:
    for write in writers(runtime):
        started = runtime.chat.start_conversation(CustomerIdentity())
        rows = full_turn(started.conversation_id, started.customer_id)
        with runtime.engine.begin() as connection:
            message_id, reply_id = write(connection, rows)
        with runtime.engine.connect() as connection:
            stored = _stored(connection, started.conversation_id)
        assert [m["id"] for m in stored["messages"]] == [message_id, reply_id], write.__name__
        message, reply = stored["messages"]
        assert message.items() >= {**rows.message, "reply_to_id": None}.items()
        assert reply.items() >= {**(rows.reply or {}), "reply_to_id": message_id}.items()
        assert [call["message_id"] for call in stored["calls"]] == [message_id, message_id]
        for call, given in zip(stored["calls"], rows.calls, strict=True):
            assert call.items() >= given.items()
        (escalation,) = stored["escalations"]
        assert escalation.items() >= {**(rows.escalation or {}), "message_id": message_id}.items()
        assert stored["conversation"].items() >= rows.conversation.items()
        assert stored["customer"].items() >= {**rows.customer, "message_count": 1}.items()


def _stored(connection: Connection, conversation_id: str) -> dict[str, Any]:
    def rows_of(model: Any) -> list[dict[str, Any]]:
        table = model.__table__
        query = select(table).where(table.c.conversation_id == conversation_id)
        return [dict(row._mapping) for row in connection.execute(query.order_by(table.c.id))]

    conversation = connection.execute(
        select(Conversation.__table__).where(Conversation.__table__.c.id == conversation_id)
    ).one()
    customer = connection.execute(
        select(Customer.__table__).where(Customer.__table__.c.id == conversation.customer_id)
    ).one()
    return {
        "messages": rows_of(Message),
        "calls": rows_of(ActionCall),
        "escalations": rows_of(Escalation),
        "conversation": dict(conversation._mapping),
        "customer": dict(customer._mapping),
    }


def test_a_message_sent_twice_is_written_once_in_one_statement_too(runtime: Runtime) -> None:
    started = runtime.chat.start_conversation(CustomerIdentity())
    first = runtime.chat.post_message(
        started.conversation_id, started.customer_token, "can I pay with PayPal?", "same"
    )
    again = runtime.chat.post_message(
        started.conversation_id, started.customer_token, "can I pay with PayPal?", "same"
    )
    assert (again.message.id, again.reply and again.reply.id) == (
        first.message.id,
        first.reply and first.reply.id,
    )
    transcript = runtime.chat.transcript(started.conversation_id, started.customer_token)
    assert len(transcript.messages) == 2
