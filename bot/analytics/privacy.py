"""A customer's data on request, and for no longer than the retention period: export, erasure
and purge, each written to the record (privacy_records).

- Export: one JSON-ready document with every row held about the customer: the profile, and the
  rows of every table that refers to it, directly or through another such row (conversations,
  messages with their readings, escalations, surveys, action calls, staff actions and lookups).
  Tables are found by their foreign keys, so a table added later is exported and erased too.
- Erasure: those rows are deleted, except two kinds. A member of staff's record of what they did
  (staff_actions) stays with its link to the conversation cut: it says what the person did, not
  for whom. The customer's own row stays as an empty shell (no external id, name, e-mail,
  attributes or scores), so that its internal id, which the record names, is never given to
  another customer. The conversations' counts are added to the day they started in
  erased_activity: totals over time stay right and name nobody.
- Purge: with a retention period, conversations closed or idle for longer are erased the same
  way, and so is the profile of a customer with nothing left who has not been seen since.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    exists,
    false,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NotFound
from bot.storage.models import (
    Base,
    Conversation,
    Customer,
    ErasedActivity,
    PrivacyRecord,
    utcnow,
)

logger = logging.getLogger(__name__)

CUSTOMERS = cast(Table, Customer.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
ERASED_ACTIVITY = cast(Table, ErasedActivity.__table__)
# Tables whose rows are someone else's record about the customer's data: kept, link cut.
KEPT_UNLINKED = frozenset({"staff_actions"})
# Columns no export shows: the hash of the customer's token is a credential, not information.
NOT_EXPORTED = frozenset({("conversations", "token_hash")})
# The customer's row once erased: every column that may be empty is, the rest as a new row's.
COUNTERS = ("conversation_count", "message_count")
# What names a customer in their row (with the attributes); the scores that profile refreshes
# compute again for an emptied row name nobody.
IDENTIFYING = ("external_id", "name", "email")
# The largest id an INTEGER column holds on every database.
MAX_ID = 2**31 - 1


class ActorKind(StrEnum):
    STAFF = "staff"
    CLI = "cli"
    SERVICE = "service"  # the service's own retention schedule (bot.analytics.retention)


class PrivacyAction(StrEnum):
    EXPORT = "export"
    ERASE = "erase"
    PURGE = "purge"


@dataclass(frozen=True)
class Actor:
    """Who asked: a member of staff (by id), whoever runs the command line, or the service."""

    kind: ActorKind
    staff_id: int | None = None

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls(ActorKind.STAFF, staff_id)


CLI = Actor(ActorKind.CLI)
SERVICE = Actor(ActorKind.SERVICE)


@dataclass(frozen=True)
class CustomerRef:
    """A customer by internal id or by the id the company's site knows them by."""

    id: int | None = None
    external_id: str | None = None

    def __post_init__(self) -> None:
        if (self.id is None) == (self.external_id is None):
            raise ValueError(
                f"give an id or an external id, not {self.id!r} and {self.external_id!r}"
            )

    def __str__(self) -> str:
        return f"customer {self.id}" if self.id is not None else f"customer {self.external_id!r}"


@dataclass(frozen=True)
class CustomerSummary:
    """What an erasure is about to remove, for a person to confirm it."""

    id: int
    external_id: str | None
    name: str | None
    conversations: int


@dataclass(frozen=True)
class Erasure:
    customer_id: int
    # Rows per table: deleted; for staff_actions kept and unlinked; for customers emptied.
    rows: dict[str, int]


@dataclass(frozen=True)
class PurgeReport:
    retention_days: int | None  # None: no retention period, nothing was erased
    cutoff: datetime | None  # what was last active before this is erased
    erasures: list[Erasure] = field(default_factory=list)

    @property
    def conversations(self) -> int:
        return sum(erasure.rows.get("conversations", 0) for erasure in self.erasures)

    @property
    def profiles(self) -> int:
        return sum(erasure.rows.get("customers", 0) for erasure in self.erasures)


class Announcer(Protocol):
    """Tells the consoles a conversation changed (bot.live.events.EventHub)."""

    def announce(self, conversation_id: str, change: str) -> None: ...


class PrivacyService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        retention_days: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        events: Announcer | None = None,
    ) -> None:
        """``retention_days`` None keeps conversations for ever; ``clock`` is "now" for the
        records and for purge (tests pass a fixed time); ``events`` tells open consoles which
        conversations went (None: nobody to tell, as from the command line)."""
        self.sessions = sessions
        self.retention_days = retention_days
        self.clock = clock
        self.events = events

    def summary(self, ref: CustomerRef) -> CustomerSummary:
        with self.sessions() as session:
            customer = _find(session, ref)
            conversations = session.scalar(
                select(func.count())
                .select_from(CONVERSATIONS)
                .where(CONVERSATIONS.c.customer_id == customer.id)
            )
            return CustomerSummary(
                customer.id, customer.external_id, customer.name, conversations or 0
            )

    def export(self, ref: CustomerRef, by: Actor) -> dict[str, Any]:
        """Everything held about the customer: ``{"exported_at", "customer": {column: value},
        "<table>": [{column: value}, …] for every table that refers to them, "privacy_records"}``,
        times as ISO 8601 (UTC)."""
        now = self.clock()
        with self.sessions.begin() as session:
            customer = _find(session, ref)
            rows = _rows_of(session, {"customers": {customer.id}})
            records = session.scalars(
                select(PrivacyRecord)
                .where(PrivacyRecord.customer_id == customer.id)
                .order_by(PrivacyRecord.id)
            ).all()
            document: dict[str, Any] = {
                "exported_at": now.isoformat(),
                "customer": _exported("customers", rows.pop("customers")[0]),
            }
            for name, table_rows in rows.items():
                document[name] = [_exported(name, row) for row in table_rows]
            document["privacy_records"] = [
                _exported("privacy_records", _columns(record)) for record in records
            ]
            counts = {name: len(table_rows) for name, table_rows in rows.items()}
            _record(session, PrivacyAction.EXPORT, customer.id, by, counts, now)
        logger.info("customer %d exported by %s", customer.id, by.kind)
        return document

    def erase(self, ref: CustomerRef, by: Actor) -> Erasure:
        """Remove everything that identifies the customer (see the module's docstring)."""
        now = self.clock()
        with self.sessions.begin() as session:
            customer = _find(session, ref, lock=True)
            gone = session.scalars(
                select(CONVERSATIONS.c.id).where(CONVERSATIONS.c.customer_id == customer.id)
            ).all()
            erased = _erase(session, {"customers": {customer.id}}, now)
            _record(session, PrivacyAction.ERASE, customer.id, by, erased, now)
        self._flush_log()
        self._announce(gone)
        logger.info("customer %d erased by %s", customer.id, by.kind)
        return Erasure(customer.id, erased)

    def purge(self, now: datetime | None = None, by: Actor = CLI) -> PurgeReport:
        """Erase the conversations last active (closed, written in or started) before ``now``
        minus the retention period, and the profiles of customers left with none who were last
        seen before then too; one transaction and one record per customer."""
        if self.retention_days is None:
            return PurgeReport(None, None)
        now = now or self.clock()
        cutoff = now - timedelta(days=self.retention_days)
        with self.sessions() as session:
            expired = _expired_conversations(session, cutoff)
            unseen = session.scalars(
                select(CUSTOMERS.c.id).where(
                    CUSTOMERS.c.last_seen_at < cutoff,
                    ~exists().where(CONVERSATIONS.c.customer_id == CUSTOMERS.c.id),
                    # Not the rows emptied before: nothing left to erase in them.
                    or_(*(CUSTOMERS.c[name].is_not(None) for name in IDENTIFYING)),
                )
            ).all()
        report = PurgeReport(self.retention_days, cutoff)
        for customer_id in sorted(set(expired) | set(unseen)):
            with self.sessions.begin() as session:
                customer = _find(session, CustomerRef(customer_id), lock=True)
                # Checked again inside the transaction: the customer may have written since.
                still = _expired_conversations(session, cutoff, customer.id).get(customer.id, [])
                erased = _erase(session, {"conversations": set(still)}, now) if still else {}
                left = session.scalar(
                    select(exists().where(CONVERSATIONS.c.customer_id == customer.id))
                )
                if not left and customer.last_seen_at < cutoff and not _is_empty(customer):
                    erased.update(_erase(session, {"customers": {customer.id}}, now))
                if erased:
                    _record(session, PrivacyAction.PURGE, customer.id, by, erased, now)
                    report.erasures.append(Erasure(customer.id, erased))
            self._announce(still)
        if report.erasures:
            self._flush_log()
        logger.info(
            "purge before %s: %d conversations, %d profiles",
            cutoff.isoformat(),
            report.conversations,
            report.profiles,
        )
        return report

    def _announce(self, conversation_ids: Iterable[str]) -> None:
        # A console showing one of them, or the queue, reloads and finds it gone.
        if self.events is not None:
            for conversation_id in conversation_ids:
                self.events.announce(conversation_id, "erased")

    def _flush_log(self) -> None:
        """SQLite: the write-ahead log still holds the pages as they were before the erasure;
        copy it into the database and empty it. Best effort: a reader that holds the log open
        keeps it until the next checkpoint, which SQLite makes on its own."""
        with self.sessions() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _find(session: Session, ref: CustomerRef, lock: bool = False) -> Customer:
    if ref.id is not None and not 0 < ref.id <= MAX_ID:
        raise NotFound(f"{ref} does not exist")
    query = select(Customer).where(
        Customer.id == ref.id if ref.id is not None else Customer.external_id == ref.external_id
    )
    # On PostgreSQL an erasure holds the customer's row: a conversation starting for them at the
    # same moment waits for it (SQLite has one writer at a time anyway).
    customer = session.scalar(query.with_for_update() if lock else query)
    if customer is None:
        raise NotFound(f"{ref} does not exist")
    return customer


def _expired_conversations(
    session: Session, cutoff: datetime, customer_id: int | None = None
) -> dict[int, list[str]]:
    """Conversations whose last activity is before ``cutoff``, by customer. The newest of
    the start, the last message and the close is compared in Python: the same on every
    database."""
    query = select(
        CONVERSATIONS.c.id,
        CONVERSATIONS.c.customer_id,
        CONVERSATIONS.c.started_at,
        CONVERSATIONS.c.last_message_at,
        CONVERSATIONS.c.closed_at,
    ).where(CONVERSATIONS.c.started_at < cutoff)
    if customer_id is not None:
        query = query.where(CONVERSATIONS.c.customer_id == customer_id)
    found: dict[int, list[str]] = defaultdict(list)
    for row in session.execute(query):
        last = max(t for t in (row.started_at, row.last_message_at, row.closed_at) if t is not None)
        if last < cutoff:
            found[row.customer_id].append(row.id)
    return found


def _referring_keys(table: Table, chosen: Mapping[str, set[Any]]) -> list[tuple[Column[Any], str]]:
    """The columns of ``table`` that refer to a table with chosen rows (itself excepted), each
    with the name of the table it refers to."""
    return [
        (key.parent, key.column.table.name)
        for key in table.foreign_keys
        if key.column.table.name != table.name and key.column.table.name in chosen
    ]


def _primary_key(table: Table) -> Column[Any]:
    [column] = table.primary_key.columns
    return column


def _rows_of(session: Session, seeds: Mapping[str, set[Any]]) -> dict[str, list[dict[str, Any]]]:
    """The seeded rows ({table: primary keys}) and every row that refers to one of them,
    directly or through another chosen row, by table, parents before children."""
    chosen: dict[str, set[Any]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        keys = _referring_keys(table, chosen)
        if table.name not in seeds and not keys:
            continue
        conditions: list[ColumnElement[bool]] = [
            column.in_(chosen[parent]) for column, parent in keys
        ]
        if table.name in seeds:
            conditions.append(_primary_key(table).in_(seeds[table.name]))
        primary = _primary_key(table)
        found = [
            dict(row)
            for row in session.execute(
                select(table).where(or_(false(), *conditions)).order_by(primary)
            ).mappings()
        ]
        rows[table.name] = found
        chosen[table.name] = {row[primary.name] for row in found}
    return rows


def _erase(session: Session, seeds: Mapping[str, set[Any]], now: datetime) -> dict[str, int]:
    """Delete (or unlink, or empty) the seeded rows and every row referring to them; the
    conversations' counts go to erased_activity. Rows per table."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite leaves deleted rows in the file's free pages unless told to overwrite them.
        session.execute(text("PRAGMA secure_delete=ON"))
    rows = _rows_of(session, seeds)
    _add_to_erased_activity(session, rows)
    done: dict[str, int] = {}
    chosen = {
        name: {row[_primary_key(_table(name)).name] for row in found}
        for name, found in rows.items()
    }
    for table in reversed(Base.metadata.sorted_tables):
        ids = chosen.get(table.name)
        if not ids:
            continue
        primary = _primary_key(table)
        if table.name == "customers":
            session.execute(update(table).where(primary.in_(ids)).values(**_emptied(now)))
        elif table.name in KEPT_UNLINKED:
            links = {column.name: None for column, _ in _referring_keys(table, chosen)}
            session.execute(update(table).where(primary.in_(ids)).values(**links))
        else:
            # A message answering another of the same conversation is deleted with it; the link
            # goes first, so that the order of the deletion does not matter to the database.
            for key in table.foreign_keys:
                if key.column.table.name == table.name:
                    session.execute(
                        update(table).where(primary.in_(ids)).values({key.parent.name: None})
                    )
            session.execute(table.delete().where(primary.in_(ids)))
        done[table.name] = len(ids)
    return done


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _emptied(now: datetime) -> dict[str, Any]:
    """The customer's row with nothing of them left in it."""
    values: dict[str, Any] = {
        column.name: None
        for column in CUSTOMERS.columns
        if column.nullable and not column.primary_key
    }
    values.update(
        attributes={},
        first_seen_at=now,
        last_seen_at=now,
        **dict.fromkeys(COUNTERS, 0),
    )
    return values


def _is_empty(customer: Customer) -> bool:
    """Already erased: nothing in the row names them."""
    return not customer.attributes and all(getattr(customer, name) is None for name in IDENTIFYING)


def _add_to_erased_activity(session: Session, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """Count the erased conversations' rows into the day each conversation started."""
    day_of = {
        row["id"]: row["started_at"].date().isoformat() for row in rows.get("conversations", [])
    }
    if not day_of:
        return
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for day in day_of.values():
        counts[day]["conversations"] += 1
    for name in ("messages", "escalations", "surveys", "action_calls"):
        for row in rows.get(name, []):
            day = day_of.get(row["conversation_id"])
            if day is None:
                continue
            counts[day][name] += 1
            if name == "surveys" and row.get("csat") is not None:
                counts[day]["csat_answers"] += 1
                counts[day]["csat_total"] += int(row["csat"])
    for day, figures in counts.items():
        _upsert_day(session, day, figures)


def _upsert_day(session: Session, day: str, figures: Counter[str]) -> None:
    columns = [c.name for c in ERASED_ACTIVITY.columns if c.name != "day"]
    values = {"day": day, **{name: figures.get(name, 0) for name in columns}}
    dialect = session.get_bind().dialect.name
    # Two erasures touching one day at once must add up, not collide on the new day's row.
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ERASED_ACTIVITY)
    statement = insert.values(values).on_conflict_do_update(
        index_elements=[ERASED_ACTIVITY.c.day],
        set_={name: ERASED_ACTIVITY.c[name] + insert.excluded[name] for name in columns},
    )
    session.execute(statement)


def _record(
    session: Session,
    action: PrivacyAction,
    customer_id: int,
    by: Actor,
    counts: Mapping[str, int],
    now: datetime,
) -> None:
    session.add(
        PrivacyRecord(
            action=action,
            customer_id=customer_id,
            actor=by.kind,
            staff_id=by.staff_id,
            details={"rows": dict(counts)},
            created_at=now,
        )
    )


def _columns(record: PrivacyRecord) -> dict[str, Any]:
    return {
        column.name: getattr(record, column.key)
        for column in cast(Table, PrivacyRecord.__table__).columns
    }


def _exported(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in row.items()
        if (table, name) not in NOT_EXPORTED
    }
