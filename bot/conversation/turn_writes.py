"""Writing a chat turn: the customer's message, the bot's reply, the calls to the company's API,
the hand-over to people, and the conversation's and the customer's changes, all or none.

On PostgreSQL the turn goes in one statement, every write a data-modifying CTE of it (a
statement is a transaction of its own): one round trip to the database. As separate statements
in a transaction, it took six (BEGIN, two inserts, two updates, COMMIT). Each round trip hands
the GIL back and waits for it again, and under load that wait is long: with 50 customers on two
workers the write took 50 ms of a 230 ms turn at p50. In one statement, alternated with the
separate ones on the same machine, the turns went from 137 to 173 messages a second over REST
and from 165 to 205 over the WebSocket, p99 from 630 to 435 ms and from 521 to 396 ms.

SQLite has no data-modifying CTEs, and its statements are calls into this process, not round
trips: there the turn is written statement by statement in a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Insert, Select, Table, Update, bindparam, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from bot.storage.models import ActionCall, Conversation, Customer, Escalation, Message

MESSAGES = cast(Table, Message.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
CUSTOMERS = cast(Table, Customer.__table__)
ACTION_CALLS = cast(Table, ActionCall.__table__)
ESCALATIONS = cast(Table, Escalation.__table__)

Columns = Mapping[str, Any]


@dataclass(frozen=True)
class TurnRows:
    """What a turn writes. The ids the database gives are left out: the reply's ``reply_to_id``
    and the calls' and the escalation's ``message_id`` are the customer message's. Every column
    is given, defaults included (see _after_message)."""

    conversation_id: str
    customer_id: int
    message: Columns  # the customer's message's columns
    reply: Columns | None  # the bot's reply's; None while a person has the conversation
    calls: tuple[Columns, ...]  # one row of action_calls for each call to the company's API
    escalation: Columns | None  # the hand-over's row of escalations, if the turn made one
    conversation: Columns  # the conversation's columns to set
    customer: Columns  # the customer's columns to set; their message_count goes up by one

    def shape(self) -> tuple[Any, ...]:
        """The columns each part writes: turns of one shape share one statement."""

        def names(columns: Columns | None) -> tuple[str, ...] | None:
            return None if columns is None else tuple(columns)

        return (
            names(self.message),
            names(self.reply),
            tuple(tuple(call) for call in self.calls),
            names(self.escalation),
            tuple(self.conversation),
            tuple(self.customer),
        )


# Writes ``rows`` and returns the ids of the customer's message and of the reply (None without).
WriteTurn = Callable[[Connection, TurnRows], tuple[int, int | None]]


# Where a turn is written in one statement (see above); elsewhere in statements, which need the
# caller's transaction.
ONE_STATEMENT_DIALECTS = frozenset({"postgresql"})


def write_in_statements(database: Connection, rows: TurnRows) -> tuple[int, int | None]:
    message_id = _insert_message(database, rows, rows.message)
    reply_id = None
    if rows.reply is not None:
        reply_id = _insert_message(database, rows, {**rows.reply, "reply_to_id": message_id})
    for call in rows.calls:
        database.execute(ACTION_CALLS.insert(), {**call, "message_id": message_id})
    if rows.escalation is not None:
        database.execute(ESCALATIONS.insert(), {**rows.escalation, "message_id": message_id})
    database.execute(_conversation_update(tuple(rows.conversation)), _conversation_values(rows))
    database.execute(_customer_update(tuple(rows.customer)), _customer_values(rows))
    return message_id, reply_id


_INSERT_MESSAGE = MESSAGES.insert().returning(MESSAGES.c.id)


def _insert_message(database: Connection, rows: TurnRows, columns: Columns) -> int:
    values = {"conversation_id": rows.conversation_id, "customer_id": rows.customer_id, **columns}
    return int(database.execute(_INSERT_MESSAGE, values).scalar_one())


@lru_cache(maxsize=64)
def _conversation_update(columns: tuple[str, ...]) -> Update:
    return _update_by_id(CONVERSATIONS, "c", columns)


@lru_cache(maxsize=64)
def _customer_update(columns: tuple[str, ...]) -> Update:
    return _update_by_id(CUSTOMERS, "u", columns, counter="message_count")


def _update_by_id(
    table: Table, part: str, columns: tuple[str, ...], counter: str | None = None
) -> Update:
    """UPDATE ``table`` SET each column to ``:<part>_<column>`` (and ``counter`` to itself + 1)
    WHERE id = ``:<part>_row_id``. Built once for each shape (the callers cache it): building a
    turn's updates and their cache keys each turn cost a third of writing the turn."""
    values: dict[str, Any] = {name: bindparam(f"{part}_{name}") for name in columns}
    if counter is not None:
        values[counter] = table.c[counter] + 1
    return table.update().where(table.c.id == bindparam(f"{part}_row_id")).values(values)


def _conversation_values(rows: TurnRows) -> dict[str, Any]:
    return {"c_row_id": rows.conversation_id, **_prefixed("c", rows.conversation)}


def _customer_values(rows: TurnRows) -> dict[str, Any]:
    return {"u_row_id": rows.customer_id, **_prefixed("u", rows.customer)}


def write_in_one_statement(database: Connection, rows: TurnRows) -> tuple[int, int | None]:
    ids = {"conversation_id": rows.conversation_id, "customer_id": rows.customer_id}
    values: dict[str, Any] = {
        **_prefixed("m", {**ids, **rows.message}),
        **_conversation_values(rows),
        **_customer_values(rows),
    }
    if rows.reply is not None:
        values.update(_prefixed("r", {**ids, **rows.reply}))
    for number, call in enumerate(rows.calls):
        values.update(_prefixed(f"a{number}", call))
    if rows.escalation is not None:
        values.update(_prefixed("e", rows.escalation))
    found = database.execute(_one_statement(rows.shape()), values).one()
    return int(found[0]), (int(found[1]) if rows.reply is not None else None)


@lru_cache(maxsize=64)
def _one_statement(shape: tuple[Any, ...]) -> Select[Any]:
    """The turn's statement for turns of ``shape`` (TurnRows.shape), built once for each: each
    part's values are bound as ``:<part>_<column>``, part m the message, r the reply, a0, a1…
    the calls, e the escalation, c and u the conversation's and the customer's changes."""
    message, reply, calls, escalation, conversation, customer = shape
    ids = ("conversation_id", "customer_id")
    inserted = (
        MESSAGES.insert()
        .values({name: bindparam(f"m_{name}") for name in (*ids, *message)})
        .returning(MESSAGES.c.id)
        .cte("m")
    )
    # The ids read back: the message's, and the reply's beside it (read from the reply's row,
    # whose reply_to_id is the message's id: read from both CTEs, they would be a cross join).
    read_back = [inserted.c.id]
    writes: list[CTE] = []
    if reply is not None:
        answered = _after_message(MESSAGES, "r", (*ids, *reply), "reply_to_id", inserted.c.id)
        replied = answered.returning(MESSAGES.c.reply_to_id, MESSAGES.c.id).cte("r")
        read_back = [replied.c.reply_to_id, replied.c.id]
    # Each call reads the message's id from the call before it, so that PostgreSQL inserts them
    # in turn and their ids keep their order (the proof check before the result).
    message_id = inserted.c.id
    for number, call in enumerate(calls):
        kept = (
            _after_message(ACTION_CALLS, f"a{number}", call, "message_id", message_id)
            .returning(ACTION_CALLS.c.message_id)
            .cte(f"a{number}")
        )
        writes.append(kept)
        message_id = kept.c.message_id
    if escalation is not None:
        escalated = _after_message(ESCALATIONS, "e", escalation, "message_id", inserted.c.id)
        writes.append(escalated.cte("e"))
    writes.append(_conversation_update(conversation).cte("c"))
    writes.append(_customer_update(customer).cte("u"))
    # Unread, the other writes still run: PostgreSQL runs every data-modifying CTE once, to the
    # end, whether or not the query reads it.
    return select(*read_back).add_cte(*writes)


def _after_message(
    table: Table,
    part: str,
    columns: tuple[str, ...],
    id_column: str,
    message_id: ColumnElement[Any],
) -> Insert:
    """INSERT INTO ``table`` the bound ``columns`` and, in ``id_column``, the message's new id as
    ``message_id`` (a column of an earlier CTE) reads it.
    Nothing else: SQLAlchemy cannot fill a column's Python default inside a CTE (it binds None)."""
    bound = [bindparam(f"{part}_{name}", type_=table.c[name].type) for name in columns]
    return table.insert().from_select(
        [*columns, id_column], select(*bound, message_id), include_defaults=False
    )


def _prefixed(part: str, columns: Columns) -> dict[str, Any]:
    return {f"{part}_{name}": value for name, value in columns.items()}
