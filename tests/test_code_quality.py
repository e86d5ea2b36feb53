"""ruff and mypy stay clean, in CI as on every developer's machine."""

from __future__ import annotations

import subprocess
import sys

from bot.config import REPO_ROOT


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout
    formatting = run("ruff", "format", "--check", ".")
    assert formatting.returncode == 0, formatting.stdout


def test_mypy() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout
