"""cxagent kb import / kb export: the YAML file in and out of the database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.storage.db import create_db_engine, create_session_factory
from bot.support.knowledge import KnowledgeService
from retrieval.knowledge_base import load_knowledge_base


def test_import_then_export_gives_the_same_entries_and_reimport_changes_only_what_differs(
    sqlite_url: str, mini_kb_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": sqlite_url}
    assert main(["kb", "export", "-"], environ=environ) == 2
    assert "no knowledge base yet" in capsys.readouterr().err

    assert main(["kb", "import", str(mini_kb_path)], environ=environ) == 0
    exported = tmp_path / "out.yaml"
    assert main(["kb", "export", str(exported)], environ=environ) == 0
    assert load_knowledge_base(exported).entries == load_knowledge_base(mini_kb_path).entries

    document = yaml.safe_load(mini_kb_path.read_text())
    document["entries"][0]["answer"] = "Your order is on its way."
    del document["entries"][0]["fallback"]
    dropped = document["entries"].pop()["id"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(document))
    capsys.readouterr()
    assert main(["kb", "import", str(changed)], environ=environ) == 0
    assert "0 entries created, 1 changed, 1 retired" in capsys.readouterr().err

    engine = create_db_engine(sqlite_url)
    knowledge = KnowledgeService(create_session_factory(engine))
    assert knowledge.snapshot().entries == load_knowledge_base(changed).entries
    assert knowledge.entry(dropped).retired
    engine.dispose()


def test_a_broken_file_is_one_line_and_changes_nothing(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("entries:\n  - id: a\n    intent: b\n    questions: [q]\n    answer: '{x}'\n")
    assert main(["kb", "import", str(broken)], environ={"CXAGENT_DATABASE_URL": sqlite_url}) == 2
    assert "unknown slot(s) ['x']" in capsys.readouterr().err


def test_an_entry_naming_an_action_the_company_lacks_is_refused(
    sqlite_url: str, mini_kb_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(mini_kb_path.read_text())
    document["entries"][0]["action"] = "launch_rocket"
    named = tmp_path / "named.yaml"
    named.write_text(yaml.safe_dump(document))
    # The demo's actions file, the default.
    assert main(["kb", "import", str(named)], environ={"CXAGENT_DATABASE_URL": sqlite_url}) == 2
    error = capsys.readouterr().err
    assert "'launch_rocket' is not an action of the actions file" in error
    assert "order_status" in error
