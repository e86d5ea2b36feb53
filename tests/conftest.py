"""Shared fixtures: a fake encoder, a small knowledge base, databases (SQLite and PostgreSQL),
and the real base model loaded once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from retrieval.encoder import Encoder
from tests.fakes import FakeEncoder, FakeReader
from tests.helpers.service import (
    IN_CI,
    MINI_KB,
    POSTGRES_URL,
    REDIS_URL,
    STAFF_PASSWORD,
    make_settings,
)

# The tests that load or train the real model take longer than the default timeout allows: the
# first load of the model about 10 s, a training run about 20 s on a 4-core CPU; this leaves room
# for a slower, busier machine while still stopping a hang.
REAL_MODEL_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("real_model") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(REAL_MODEL_TIMEOUT))


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


@pytest.fixture
def reader_runtime(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service with the keyword-reading fake NLU model, the demo escalation rules and one
    agent account, ``sam`` (password STAFF_PASSWORD)."""
    from bot.support.accounts import Role

    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeReader())
    built.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam")
    yield built
    built.close()


@pytest.fixture
def reader_client(reader_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(reader_runtime.settings, reader_runtime)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def served_encoder() -> Encoder:
    """What `cxagent serve` runs by default: the demo NLU bundle on the bundled
    all-MiniLM-L6-v2, loaded once for the whole test session."""
    from bot.config import Settings
    from bot.runtime import served_encoder as load

    return load(Settings())


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis's URL, once it answers; in CI an unreachable Redis fails the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"Redis at {REDIS_URL} is unreachable: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL
