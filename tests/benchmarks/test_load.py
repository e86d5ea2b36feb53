"""The load benchmark: how it reads transcripts back, and a tiny run as its command against a
real server (retrieval alone, the small knowledge base, SQLite, one worker, REST and the
WebSocket) that takes one turn at a time, so customers are told to come back and resend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.load import (
    PASSES_EACH,
    PASSES_EVERY,
    PassesBeside,
    Problem,
    delivery_problems,
    main,
    read_messages,
)
from benchmarks.robustness import WRITTEN_MESSAGES
from tests.helpers.service import MINI_KB

ROOT = Path(__file__).resolve().parents[2]


def _message(id_: int, role: str, client_id: str | None = None) -> dict[str, Any]:
    return {"id": id_, "role": role, "client_message_id": client_id}


def test_a_transcript_as_acknowledged_has_no_problem() -> None:
    transcript = [
        _message(1, "customer", "m0"),
        _message(2, "bot"),
        _message(3, "customer", "m1"),
        _message(4, "bot"),
    ]
    acknowledged = {"m0": {1}, "m1": {3}}
    assert delivery_problems("c", transcript, acknowledged, {2, 4}) == []


def test_reading_back_finds_what_was_lost_or_stored_twice() -> None:
    transcript = [
        _message(1, "customer", "m0"),
        _message(2, "bot"),
        _message(3, "customer", "m1"),
        _message(4, "bot"),
        _message(5, "bot"),  # m1 answered twice
        _message(6, "customer", "m1"),  # m1 stored twice
        _message(7, "agent"),  # a person's message is nobody's reply
    ]
    # m2 was acknowledged and is missing; m0 was acknowledged as two different messages.
    acknowledged = {"m0": {1, 9}, "m1": {3}, "m2": {8}}
    found = delivery_problems("c", transcript, acknowledged, {2, 4, 10})
    assert sorted(found) == sorted(
        [
            (Problem.DUPLICATED, "c m1: stored 2x"),
            (Problem.DUPLICATED, "c m0: acknowledged as [1, 9]"),
            (Problem.LOST, "c m2"),
            (Problem.REPLY_LOST, "c reply 10"),
            (Problem.REPLY_DUPLICATED, "c reply 5: a second one"),
        ]
    )


class CountingEncoder:
    """Remembers every text it encoded; its vectors are never read."""

    name = fingerprint = "counting"
    dim = 1

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> Any:
        self.encoded += texts
        return None


def test_the_bare_pass_is_timed_in_blocks_between_the_lone_customers_answers() -> None:
    encoder = CountingEncoder()
    questions = [f"question {n}" for n in range(7)]
    beside = PassesBeside(encoder, questions)
    warmed = len(encoder.encoded)
    assert warmed > 0 and beside.times == []  # warmed, nothing timed yet
    beside()  # the first answer measured: a block at once
    assert len(beside.times) == PASSES_EACH
    for _ in range(PASSES_EVERY - 1):
        beside()
    assert len(beside.times) == PASSES_EACH  # nothing more until the next twentieth answer
    beside()
    assert len(beside.times) == 2 * PASSES_EACH
    # Each block goes on through the questions where the last one stopped.
    timed = encoder.encoded[warmed:]
    assert timed == [questions[n % len(questions)] for n in range(2 * PASSES_EACH)]


@pytest.mark.parametrize(
    "wrong",
    [
        ["--transports", "rest,smoke-signals"],
        ["--databases", ""],
        ["--workers", "0"],
        ["--workers", "two"],
        ["--seconds", "0"],
        ["--customers", "0"],
    ],
)
def test_options_out_of_bounds_are_refused_before_anything_starts(wrong: list[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(wrong)
    assert refused.value.code == 2


def test_a_messages_file_that_cannot_serve_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_text_column = tmp_path / "no-text.csv"
    no_text_column.write_text("message\nwhere is my order\n", encoding="utf-8")
    only_blanks = tmp_path / "blanks.csv"
    only_blanks.write_text("text,intent\n,greeting\n  ,thanks\n", encoding="utf-8")
    for path, why in [
        (tmp_path / "missing.csv", "No such file"),
        (no_text_column, "no `text` column"),
        (only_blanks, "no messages"),
    ]:
        with pytest.raises(SystemExit) as refused:
            main(["--messages", str(path)])
        assert refused.value.code == 2
        assert why in capsys.readouterr().err


def test_the_written_messages_are_read_in_order_as_typed() -> None:
    messages = read_messages(WRITTEN_MESSAGES)
    assert len(messages) == 116
    assert messages[:2] == ("hiya 👋 anyone there", "Morning!! 🙂")


@pytest.mark.real_model  # the benchmark and the server load all-MiniLM-L6-v2
def test_a_tiny_run_under_overload_stores_every_message_once(
    mini_kb_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, "-m", "benchmarks.load", "--customers", "4", "--seconds", "3"]
    command += ["--warm-up", "1", "--databases", "sqlite", "--workers", "1"]
    command += ["--transports", "rest,ws", "--bundle", "none", "--runtimes", "pytorch"]
    command += ["--forward-passes", "5", "--json-out", str(out)]
    environ = {
        **os.environ,
        "CXAGENT_KNOWLEDGE_BASE": str(mini_kb_path),
        # One turn at a time: the four customers are refused with 503 and resend.
        "CXAGENT_MAX_TURNS_IN_FLIGHT": "1",
    }
    done = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["failed"] is False
    assert [s["transport"] for s in report["scenarios"]] == ["rest", "ws"]
    for scenario in [*report["scenarios"], *report["alone"]]:
        assert scenario["stored_once"] is True, scenario["examples"]
        assert [scenario[str(problem)] for problem in Problem] == [0, 0, 0, 0]
        failing = ("server_error", "ws_error", "refused_4xx")
        assert [scenario["errors"][kind] for kind in failing] == [0, 0, 0]
        assert scenario["turns"] > 0 and scenario["acknowledged"] >= scenario["turns"]
        assert scenario["replies"] == scenario["acknowledged"]  # the bot answered every one
        assert set(scenario["turn_ms"]) == {"p50", "p95", "p99"}
    # Each transport met the bound, and the customers resent what it refused.
    assert all(s["errors"]["busy_503"] > 0 for s in report["scenarios"])
    assert [alone["transport"] for alone in report["alone"]] == ["rest", "ws"]
    for alone in report["alone"]:
        assert alone["customers"] == 1 and alone["served_runtime"] == "pytorch"
        assert alone["bare_forward_beside_ms"]["p50"] > 0
        assert alone["bare_forward_p50_ms"] == alone["bare_forward_beside_ms"]["p50"]
        assert alone["turn_p50_over_forward_p50"] > 0
        before = report["bare_forward_ms"]["pytorch"]["p50"]
        assert alone["turn_p50_over_forward_before_p50"] == round(
            alone["turn_ms"]["p50"] / before, 2
        )
    assert report["bare_forward_ms"]["pytorch"]["p50"] > 0
    assert report["servers"] == [
        {
            "label": "sqlite · 1 worker",
            "database": "sqlite",
            "workers": 1,
            "redis": False,
            "encoder": "sentence-transformers/all-MiniLM-L6-v2",
            "served_runtime": "pytorch",
            "knowledge_base_entries": len(MINI_KB["entries"]),
            "status": "ran",
        }
    ]
    assert report["machine"]["cores"]
    assert "| rest · sqlite · 1 worker · 4 customers |" in done.stdout
    assert "| ws · sqlite · 1 worker · 4 customers |" in done.stdout
