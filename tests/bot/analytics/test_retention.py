"""The service keeps its retention period itself: what has passed it is erased on a schedule,
without `cxagent purge`, and a purge that fails is tried again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.analytics.privacy import Actor, PrivacyService, PurgeReport
from bot.analytics.retention import RetentionSchedule
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.storage.db import DatabaseUnavailable
from bot.storage.models import PrivacyRecord
from tests.fakes import FakeReader
from tests.helpers.privacy import dump, last_active_at, write_history
from tests.helpers.service import make_settings


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.05)


def test_the_schedule_erases_what_has_passed_the_retention_period(privacy_desk: Runtime) -> None:
    with TestClient(create_app(privacy_desk.settings, privacy_desk)) as client:
        bob = write_history(client, privacy_desk.sessions, "bob", "Bob Marley")
        kept = write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace")
    last_active_at(privacy_desk.sessions, bob, datetime.now(UTC) - timedelta(days=40))

    def recorded() -> list[tuple[str, str, int]]:
        with privacy_desk.sessions() as session:
            rows = session.execute(
                select(PrivacyRecord.action, PrivacyRecord.actor, PrivacyRecord.customer_id)
            )
            return [(row.action, row.actor, row.customer_id) for row in rows]

    schedule = RetentionSchedule(
        PrivacyService(privacy_desk.sessions, retention_days=30),
        every_seconds=0.05,
        first_seconds=0,
    )
    schedule.start()
    try:
        wait_for(recorded)
        time.sleep(0.3)  # several rounds more: each customer is erased once
    finally:
        schedule.close()
    assert recorded() == [("purge", "service", bob.customer_id)]
    after = dump(privacy_desk.sessions)
    assert [trace for trace in bob.traces if trace in after] == []
    assert kept.conversation_id in after and kept.external_id in after


class FailsOnce(PrivacyService):
    """A purge whose database is away the first time."""

    def __init__(self) -> None:
        self.calls = 0

    def purge(self, now: datetime | None = None, by: Actor | None = None) -> PurgeReport:
        self.calls += 1
        if self.calls == 1:
            raise DatabaseUnavailable("the database is away")
        return PurgeReport(30, datetime.now(UTC))


def test_a_purge_that_fails_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    privacy = FailsOnce()
    schedule = RetentionSchedule(privacy, every_seconds=0.05, first_seconds=0)
    schedule.start()
    try:
        wait_for(lambda: privacy.calls >= 2)
    finally:
        schedule.close()
    assert "retention: the purge failed, will try again" in caplog.text
    assert [r.levelno for r in caplog.records if "retention" in r.getMessage()] == [logging.WARNING]


def test_a_closed_schedule_stops_at_once_before_its_first_purge() -> None:
    privacy = FailsOnce()
    schedule = RetentionSchedule(privacy, every_seconds=3600)  # the first purge a minute away
    schedule.start()
    started = time.monotonic()
    schedule.close()
    assert time.monotonic() - started < 5
    assert privacy.calls == 0


def test_the_service_runs_the_schedule_only_with_a_retention_period(
    database_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, mini_kb_path)
    without = build_runtime(settings, FakeReader())
    without.close()
    assert without.retention is None
    runtime = build_runtime(settings.model_copy(update={"retention_days": 30}), FakeReader())
    try:
        assert runtime.retention is not None
        assert runtime.retention.privacy.retention_days == 30
        assert runtime.retention.every_seconds == settings.purge_every_seconds
    finally:
        runtime.close()
