"""The shop's database: SQLite (stdlib `sqlite3`), seeded once from the data file; writes persist.

Each order is one JSON document (`schemas.Order`) beside the columns it is looked up by. A write
runs in one `BEGIN IMMEDIATE` transaction that also stores its answer under the caller's
Idempotency-Key, so a resent request (the bot retrying after a timeout) is answered from the
stored result instead of running again, even when the two arrive at once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.demo_shop import rules
from bot.demo_shop.schemas import Address, CustomerOrders, Order, Seed

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Apply = Callable[[Order, datetime], Order]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, placed_at TEXT NOT NULL,
    document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, placed_at);
CREATE TABLE IF NOT EXISTS idempotency (
    customer_id TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,
    status_code INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (customer_id, key));
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
    idempotency_key TEXT NOT NULL);
"""


class ShopDataError(ValueError):
    """The data file cannot be read as the shop's orders; the message says where."""


class NotFound(Exception):
    """Unknown, or not the caller's: the two answer alike so nothing leaks."""


class KeyReused(Exception):
    """An Idempotency-Key already used for a different request."""


@dataclass(frozen=True)
class Outcome:
    """A write's answer as it was first given: the HTTP status and the JSON body."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Change:
    """One write to an order, as the history keeps it."""

    order_id: str
    at: datetime
    action: str
    idempotency_key: str


def load_seed(data_file: Path) -> Seed:
    try:
        raw = yaml.safe_load(data_file.read_text(encoding="utf-8"))
        return Seed.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ShopDataError(f"demo shop data {data_file}: {error}") from error


def day_clock(today: date) -> Clock:
    """The shop's clock for the demo: it stands on the data's `today`, from noon, and ticks.

    The seed's dates are written against that day, so "delivered ten days ago" stays inside the
    return window whatever the real date is.
    """
    start = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


@dataclass
class ShopStore:
    db_path: Path
    clock: Clock

    def __post_init__(self) -> None:
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def seed(self, seed: Seed) -> bool:
        """Load the seed into an empty database; True if it did. Later starts keep the writes."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM meta WHERE name = 'seeded_at'").fetchone():
                return False
            db.executemany(
                "INSERT INTO customers VALUES (?, ?, ?)",
                [(c.customer_id, c.name, c.email) for c in seed.customers],
            )
            db.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?)",
                [(o.order_id, o.customer_id, _instant(o.placed_at), _json(o)) for o in seed.orders],
            )
            db.execute("INSERT INTO meta VALUES ('seeded_at', ?)", (_instant(self.clock()),))
        logger.info("demo shop seeded with %d orders into %s", len(seed.orders), self.db_path)
        return True

    # ----------------------------------------------------------------------------- reads

    def order(self, order_id: str, customer_id: str) -> Order:
        with self._connect() as db:
            return _owned(db, order_id, customer_id)

    def customer_orders(self, customer_id: str, acting_for: str) -> CustomerOrders:
        """The customer and their orders, newest first; only the customer may ask."""
        with self._connect() as db:
            row = db.execute(
                "SELECT customer_id, name, email FROM customers WHERE customer_id = ?",
                (customer_id,),
            ).fetchone()
            if row is None or customer_id != acting_for:
                raise NotFound("customer not found")
            documents = db.execute(
                "SELECT document FROM orders WHERE customer_id = ? ORDER BY placed_at DESC",
                (customer_id,),
            ).fetchall()
        return CustomerOrders.model_validate(
            {
                "customer": dict(zip(("customer_id", "name", "email"), row, strict=True)),
                "orders": [Order.model_validate_json(document) for (document,) in documents],
            }
        )

    def verify(self, order_id: str, email: str) -> str:
        """The owner of the order if `email` is the order's e-mail (case aside)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT customer_id, document FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
        if row is None or Order.model_validate_json(row[1]).email.casefold() != email.casefold():
            raise NotFound("no order with that number and e-mail")
        return str(row[0])

    def history(self, order_id: str) -> list[Change]:
        """The changes written to an order, oldest first (the seed is not a change)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT order_id, at, action, idempotency_key FROM changes "
                "WHERE order_id = ? ORDER BY id",
                (order_id,),
            ).fetchall()
        return [Change(o, datetime.fromisoformat(at), action, key) for o, at, action, key in rows]

    # ---------------------------------------------------------------------------- writes

    def cancel(self, order_id: str, customer_id: str, key: str) -> Outcome:
        return self._write(order_id, customer_id, key, ("cancel",), rules.cancel)

    def start_return(self, order_id: str, customer_id: str, key: str, sku: str) -> Outcome:
        return self._write(
            order_id,
            customer_id,
            key,
            ("return", sku),
            lambda order, now: rules.start_return(order, sku, now),
            success=201,
        )

    def change_address(
        self, order_id: str, customer_id: str, key: str, address: Address
    ) -> Outcome:
        return self._write(
            order_id,
            customer_id,
            key,
            ("address", address.model_dump(mode="json")),
            lambda order, _now: rules.change_address(order, address),
        )

    def _write(
        self,
        order_id: str,
        customer_id: str,
        key: str,
        request: tuple[Any, ...],
        apply: Apply,
        success: int = 200,
    ) -> Outcome:
        """Run `apply` once per (customer, key): the first answer is stored and given again.

        A refusal (409) is stored too: the resend of a refused request is refused alike, even if
        the order has moved on since. An unknown order is not stored: nothing was decided.
        """
        fingerprint = json.dumps([order_id, *request], sort_keys=True)
        with self._transaction() as db:
            earlier = db.execute(
                "SELECT request, status_code, body FROM idempotency "
                "WHERE customer_id = ? AND key = ?",
                (customer_id, key),
            ).fetchone()
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise KeyReused(f"Idempotency-Key {key!r} was already used for another request")
                return Outcome(earlier[1], json.loads(earlier[2]), replayed=True)
            order = _owned(db, order_id, customer_id)
            now = self.clock()
            try:
                changed = apply(order, now)
            except rules.Refused as refused:
                outcome = Outcome(409, {"detail": refused.reason, "code": refused.code})
            else:
                db.execute(
                    "UPDATE orders SET document = ? WHERE order_id = ?", (_json(changed), order_id)
                )
                db.execute(
                    "INSERT INTO changes (order_id, at, action, idempotency_key) "
                    "VALUES (?, ?, ?, ?)",
                    (order_id, _instant(now), request[0], key),
                )
                outcome = Outcome(success, changed.model_dump(mode="json", by_alias=True))
            db.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?)",
                (customer_id, key, fingerprint, outcome.status_code, json.dumps(outcome.body)),
            )
        return outcome

    # -------------------------------------------------------------------------- plumbing

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per call: requests run on uvicorn's thread pool, and a connection
        # must not cross threads. isolation_level=None leaves transactions to _transaction.
        with closing(sqlite3.connect(self.db_path, timeout=10, isolation_level=None)) as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at the start, so two writes with the same key queue
        # up and the second sees the first one's stored answer.
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _owned(db: sqlite3.Connection, order_id: str, customer_id: str) -> Order:
    row = db.execute(
        "SELECT document FROM orders WHERE order_id = ? AND customer_id = ?",
        (order_id, customer_id),
    ).fetchone()
    if row is None:
        raise NotFound("order not found")
    return Order.model_validate_json(row[0])


def _json(order: Order) -> str:
    return order.model_dump_json(by_alias=True)


def _instant(moment: datetime) -> str:
    # One zone and one format, so the text sorts as the time does.
    return moment.astimezone(UTC).isoformat()
