"""The log-in timing benchmark, run tiny as its command: a real server, one known account, wrong
passwords for it and unknown usernames, every answer a 401."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.real_model  # the server loads all-MiniLM-L6-v2 for retrieval
def test_a_tiny_run_times_both_kinds_of_failed_log_in(mini_kb_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.login_timing", "--rounds", "3"]
    environ = {**os.environ, "CXAGENT_KNOWLEDGE_BASE": str(mini_kb_path)}
    done = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    for kind in ("known_user_wrong_password", "unknown_user"):
        assert report[kind]["statuses"] == {"401": 3}
        assert report[kind]["median_ms"] > 0
    assert "difference_of_medians_ms" in report
