"""Chat turns through the HTTP API of a real ``cxagent serve`` process, beside the bare encoder's
forward pass measured in the same run.

    python -m benchmarks.chat [--messages 500]
    python -m benchmarks.chat --pythonpath . --label now --pythonpath ../before --label before

Each ``--pythonpath DIR`` starts a server with ``PYTHONPATH=DIR``, so the checkout at DIR is
served (the demo data and models are this checkout's, for every server); servers run one after
another, each on a scratch SQLite database, and are measured against the same baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Client,
    free_port,
    machine_info,
    percentile,
    read_heldout,
    settings_or_exit,
    wait_until_up,
)
from bot.config import Settings
from retrieval.encoder import Encoder


@dataclass(frozen=True)
class Server:
    label: str
    pythonpath: Path | None  # None: the code this benchmark imports


def bare_forward_ms(encoder: Encoder, questions: list[str], count: int) -> list[float]:
    """The served model in this process, one message at a time, back to back, warm."""
    for text in questions[:20]:
        encoder.encode([text])
    times = []
    for sent in range(count):
        began = time.perf_counter()
        encoder.encode([questions[sent % len(questions)]])
        times.append(1000 * (time.perf_counter() - began))
    return times


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def measure_server(
    settings: Settings,
    server: Server,
    questions: list[str],
    messages: int,
    per_conversation: int = 10,
) -> tuple[list[float], list[float]]:
    """(the client's turn times, the server's own answer times), in ms, of ``messages`` turns
    sent one after another after 20 to warm up."""
    port = free_port()
    turn_ms: list[float] = []
    server_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cxagent-bench-") as scratch:
        env = {
            **os.environ,
            "CXAGENT_DATABASE_URL": f"sqlite:///{scratch}/bench.db",
            "CXAGENT_INDEX_DIR": f"{scratch}/index",
            "CXAGENT_LOG_LEVEL": "warning",
            "CXAGENT_BASE_MODEL": settings.base_model,
            "CXAGENT_NLU_BUNDLE": str(settings.nlu_bundle or "none"),
            "CXAGENT_KNOWLEDGE_BASE": str(settings.knowledge_base),
        }
        if server.pythonpath is not None:
            env["PYTHONPATH"] = str(server.pythonpath.resolve())
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process)
            client = Client(url)
            warm_up = 20
            token, path, in_conversation = "", "", per_conversation
            for sent in range(warm_up + messages):
                if in_conversation == per_conversation:
                    customer = {"external_id": f"bench-{sent}", "name": "Sam"}
                    started = client.post("/api/conversations", {"customer": customer})
                    token = started["customer_token"]
                    path = f"/api/conversations/{started['conversation_id']}/messages"
                    in_conversation = 0
                began = time.perf_counter()
                turn = client.post(path, {"text": questions[sent % len(questions)]}, token)
                elapsed = 1000 * (time.perf_counter() - began)
                in_conversation += 1
                if turn["reply"] is None:
                    # The rules handed this conversation to people (a run of complaints, say):
                    # the bot is silent there, so the next message starts a new one.
                    in_conversation = per_conversation
                    continue
                if sent >= warm_up:
                    turn_ms.append(elapsed)
                    server_ms.append(turn["reply"]["latency_ms"])
            client.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    return turn_ms, server_ms


def chat_benchmark(settings: Settings, servers: list[Server], messages: int) -> dict[str, Any]:
    """Every server measured in turn, and the bare forward pass before the first and after the
    last (the strictest baseline: warm, with the cores to itself)."""
    from bot.runtime import served_encoder

    questions = [text for text, _ in read_heldout()]
    encoder = served_encoder(settings)
    forward_ms = bare_forward_ms(encoder, questions, messages // 2)
    measured = {server: measure_server(settings, server, questions, messages) for server in servers}
    forward_ms += bare_forward_ms(encoder, questions, messages - messages // 2)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "messages": messages,
        "encoder": encoder.name,
        "bare_forward_ms": summary(forward_ms),
        "servers": {},
    }
    for server, (turn_ms, server_ms) in measured.items():
        ratio = percentile(turn_ms, 50) / percentile(forward_ms, 50)
        results["servers"][server.label] = {
            "pythonpath": None if server.pythonpath is None else str(server.pythonpath),
            "answered_turns": len(turn_ms),
            "chat_turn_ms": summary(turn_ms),
            "server_answer_ms": summary(server_ms),
            "turn_p50_over_forward_p50": round(ratio, 2),
            "within_2x": ratio <= 2.0,
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chat", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=500, help="messages to send each server")
    parser.add_argument(
        "--pythonpath",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="serve the checkout in DIR (PYTHONPATH=DIR); give it again to compare versions "
        "(default: the code this benchmark runs)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        help="a name for each server, in the order of --pythonpath (default: the folder)",
    )
    args = parser.parse_args(argv)
    if len(args.label) > max(1, len(args.pythonpath)):
        parser.error("give at most one --label per --pythonpath")
    paths: list[Path | None] = list(args.pythonpath) or [None]
    servers = [
        Server(
            label=args.label[i] if i < len(args.label) else str(path or "this checkout"),
            pythonpath=path,
        )
        for i, path in enumerate(paths)
    ]
    if len({server.label for server in servers}) < len(servers):
        parser.error("each server needs its own --label")
    missing = [str(path) for path in args.pythonpath if not (path / "bot").is_dir()]
    if missing:
        parser.error(f"--pythonpath {missing[0]}: no bot/ package there")
    settings = settings_or_exit("benchmarks.chat")
    print(json.dumps(chat_benchmark(settings, servers, args.messages), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
