"""The README stays true: its commands are what CI runs, and it documents every setting."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import ENV_PREFIX, Settings

REPO_ROOT = Path(__file__).resolve().parents[1]

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


TEST_COMMAND = 'bash tests/install-browser.sh && pip install -e ".[test]" && pytest'


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", README)
    assert TEST_COMMAND in commands
    assert TEST_COMMAND in (REPO_ROOT / ".ci" / "run").read_text()
    assert "pip install -e . && cxagent export-onnx && cxagent index && cxagent serve" in commands


def test_the_screenshots_the_readme_shows_exist() -> None:
    shown = re.findall(r"\]\((docs/screenshots/[^)]+)\)", README)
    assert len(shown) >= 10
    for path in shown:
        assert (REPO_ROOT / path).is_file(), path


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"| `{ENV_PREFIX}{name.upper()}` |" in README, name
