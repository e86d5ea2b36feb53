"""Fixtures of the service's tests: the staff desk, a service with staff accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.privacy import privacy_runtime
from tests.helpers.service import STAFF_PASSWORD, make_settings


@pytest.fixture
def desk(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service with the keyword-reading fake model and two accounts, ``ana`` (admin) and
    ``sam`` (agent), both with the password STAFF_PASSWORD."""
    built = build_runtime(make_settings(database_url, tmp_path, mini_kb_path), encoder=FakeReader())
    built.staff.create_account("ana", STAFF_PASSWORD, Role.ADMIN, "Ana Admin")
    built.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam Support")
    yield built
    built.close()


@pytest.fixture
def desk_client(desk: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(desk.settings, desk)) as test_client:
        yield test_client


@pytest.fixture
def privacy_desk(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service as the privacy tests need it (tests.helpers.privacy.privacy_runtime)."""
    built = privacy_runtime(database_url, tmp_path, mini_kb_path)
    yield built
    built.close()
