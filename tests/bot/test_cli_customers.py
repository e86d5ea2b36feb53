"""cxagent customer export, customer erase and purge, as an operator runs them."""

from __future__ import annotations

import io
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.cli import main
from bot.storage.db import create_db_engine, create_session_factory
from bot.storage.models import PrivacyRecord, utcnow
from tests.helpers.privacy import History, dump, last_active_at, privacy_runtime, write_history


@pytest.fixture
def histories(database_url: str, tmp_path: Path, mini_kb_path: Path) -> tuple[History, History]:
    runtime = privacy_runtime(database_url, tmp_path, mini_kb_path)
    try:
        with TestClient(create_app(runtime.settings, runtime)) as client:
            return (
                write_history(client, runtime.sessions, "ada", "Ada Lovelace"),
                write_history(client, runtime.sessions, "bob", "Bob Marley"),
            )
    finally:
        runtime.close()


def database_dump(database_url: str) -> str:
    engine = create_db_engine(database_url)
    try:
        return dump(create_session_factory(engine))
    finally:
        engine.dispose()


def records(database_url: str) -> list[tuple[str, int, str]]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(PrivacyRecord.action, PrivacyRecord.customer_id, PrivacyRecord.actor)
            ).all()
        return [(action, customer, actor) for action, customer, actor in rows]
    finally:
        engine.dispose()


def test_export_writes_the_customers_document_to_stdout_or_a_private_file(
    database_url: str,
    histories: tuple[History, History],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ada, _ = histories
    environ = {"CXAGENT_DATABASE_URL": database_url}
    assert main(["customer", "export", str(ada.customer_id)], environ=environ) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["customer"]["external_id"] == ada.external_id
    assert len(printed["messages"]) == 7

    output = tmp_path / "ada.json"
    args = ["customer", "export", ada.external_id, "--external", "--output", str(output)]
    assert main(args, environ=environ) == 0
    assert json.loads(output.read_text())["customer"]["id"] == ada.customer_id
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "7 messages in 1 conversations" in capsys.readouterr().err
    assert records(database_url) == [("export", ada.customer_id, "cli")] * 2


def test_erase_asks_first_and_erases_only_on_yes(
    database_url: str,
    histories: tuple[History, History],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ada, bob = histories
    environ = {"CXAGENT_DATABASE_URL": database_url}
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    assert main(["customer", "erase", ada.external_id, "--external"], environ=environ) == 0
    asked = capsys.readouterr()
    assert f"Erase customer {ada.customer_id}, {ada.external_id} on the site" in asked.out
    assert "nothing erased" in asked.err
    assert ada.external_id in database_dump(database_url)

    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert main(["customer", "erase", str(ada.customer_id)], environ=environ) == 0
    assert f"customer {ada.customer_id} erased" in capsys.readouterr().out
    after = database_dump(database_url)
    assert [trace for trace in ada.traces if trace in after] == []
    assert all(trace in after for trace in bob.traces)

    assert main(["customer", "erase", str(bob.customer_id), "--yes"], environ=environ) == 0
    assert records(database_url) == [
        ("erase", ada.customer_id, "cli"),
        ("erase", bob.customer_id, "cli"),
    ]


def test_an_unknown_customer_or_an_id_that_is_no_number_is_one_line_and_exit_2(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": database_url}
    assert main(["customer", "erase", "cust-9", "--yes"], environ=environ) == 2
    assert "not an internal customer id" in capsys.readouterr().err
    assert main(["customer", "export", "cust-9", "--external"], environ=environ) == 2
    assert capsys.readouterr().err.strip() == (
        "cxagent customer: error: customer 'cust-9' does not exist"
    )


def test_purge_applies_the_retention_period_and_says_what_it_erased(
    database_url: str, histories: tuple[History, History], capsys: pytest.CaptureFixture[str]
) -> None:
    ada, bob = histories
    assert main(["purge"], environ={"CXAGENT_DATABASE_URL": database_url}) == 0
    assert "everything is kept" in capsys.readouterr().out
    engine = create_db_engine(database_url)
    try:
        last_active_at(create_session_factory(engine), bob, utcnow() - timedelta(days=10))
    finally:
        engine.dispose()

    environ = {"CXAGENT_DATABASE_URL": database_url, "CXAGENT_RETENTION_DAYS": "7"}
    assert main(["purge"], environ=environ) == 0
    out = capsys.readouterr().out
    assert "retention 7 days: erased 1 conversation(s)" in out and "1 profile(s)" in out
    assert f"customer {bob.customer_id}: " in out and "messages 7" in out
    after = database_dump(database_url)
    assert [trace for trace in bob.traces if trace in after] == []
    assert all(trace in after for trace in ada.traces)
