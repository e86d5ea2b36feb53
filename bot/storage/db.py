"""Engine and sessions, the start-up connection check, and migrations (Alembic)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from retrieval.errors import CxagentError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseUnavailable(CxagentError, RuntimeError):
    """The database cannot be reached or used; the message is one line, safe to show."""


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


# Connections a server's pool keeps: one for each thread that may use one at once (the request
# threads, bot.config's request_threads), so that a thread never waits for a connection.
POOL_SIZE = 40


def create_db_engine(url: str, pool_size: int = POOL_SIZE) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        pooled: dict[str, Any] = {}
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # A connection for each request thread, as on a server: SQLAlchemy's default of 15
            # left the other threads of a busy process waiting for one.
            pooled = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 5}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pooled)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No overflow: beyond the threads a connection could only be for work the admission bound
    # refused, and running out is a 503 (bot.api.errors), never a wait without end.
    engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=5)
    _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before it is used again.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections that sat idle only. A restarted database or a
    firewall drops idle connections, and the ping finds them before a request does; pinging at
    every checkout cost a round trip to the database on every chat turn (a tenth of a lone
    customer's turn) for connections used milliseconds before. One dropped while busy fails
    its request with a 503 (bot.api.errors), and SQLAlchemy then renews the pool."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def note_idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # The pool discards this connection and checks out another (or makes a new one).
            raise DisconnectionError("the database closed an idle connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work beside the writer; NORMAL sync is durable across application
    # crashes and keeps a chat turn's commit to about a millisecond.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def check_database(engine: Engine) -> None:
    """Raise DatabaseUnavailable with a one-line reason if the database cannot be queried."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise DatabaseUnavailable(
            f"cannot reach the database at {safe_url(str(engine.url))}: {reason}"
        ) from error


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic upgrade)."""
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def migrated_sessions(url: str, auto_migrate: bool) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database at ``url``, checked and (if ``auto_migrate``) migrated, for work
    outside the service (a command, a background job); the engine is closed afterwards."""
    engine = create_db_engine(url)
    try:
        check_database(engine)
        if auto_migrate:
            migrate(engine)
        yield create_session_factory(engine)
    finally:
        engine.dispose()
