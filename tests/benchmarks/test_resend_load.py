"""The delivery load benchmark, run tiny as its command: a real server (retrieval alone, the
small knowledge base), five customers of two messages each, with resends, End chat and waiting
for a person."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.real_model  # the server loads all-MiniLM-L6-v2 for retrieval
def test_a_tiny_run_loses_and_duplicates_nothing(mini_kb_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.resend_load", "--customers", "5"]
    # A resend after a short wait too, besides the random ones and the copies sent at once.
    command += ["--messages", "2", "--bundle", "none", "--resend-after", "0.05"]
    environ = {**os.environ, "CXAGENT_KNOWLEDGE_BASE": str(mini_kb_path)}
    done = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600, check=False
    )
    report = json.loads(done.stdout)
    counts = ("server_errors", "lost", "duplicated", "tokens_in_log")
    assert [report[count] for count in counts] == [0, 0, 0, 0], report
    # The log searched for tokens is the server's own, a line for every request at least.
    assert report["server_log_lines"] > report["acknowledged"]
    assert done.returncode == 0, done.stderr
    assert report["started"] == 5 and report["acknowledged"] == 10
    assert report["resends"] > 0 and report["ends"] == 2
    # Those who asked for a person wait for one; the others are with the bot.
    assert report["final_statuses"] == {"bot": 3, "waiting": 2}
    assert report["machine"]["cores"] and report["server"]["nlu_bundle"] is None
