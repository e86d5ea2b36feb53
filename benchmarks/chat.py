"""Chat turns through the HTTP API of a real ``cxagent serve`` process, beside the bare encoder's
forward pass measured in the same run; then turns that call an action in the company's API, with
the action's share of the service's time.

    python -m benchmarks.chat [--messages 500] [--action-turns 100]
    python -m benchmarks.chat --pythonpath . --label now --pythonpath ../before --label before

Each ``--pythonpath DIR`` starts a server with ``PYTHONPATH=DIR`` in DIR, so the checkout at DIR
is served (the knowledge base and models are this checkout's, for every server; the actions and
the demo shop's orders are its own); servers run one after another, each on a scratch SQLite
database and a scratch demo shop, and are measured against the same baseline. A checkout without
actions answers the action turns its own way and reports no action turns.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from benchmarks.common import (
    Client,
    free_port,
    machine_info,
    percentile,
    read_heldout,
    settings_or_exit,
    wait_until_up,
)
from bot.config import ENV_PREFIX, Settings
from retrieval.encoder import Encoder

# A scratch secret: every server is started with it, and every customer id is signed with it.
IDENTITY_SECRET = "cxagent-benchmark-identity-secret"
# Priya Sharma's orders in data/shop/orders.yaml (in transit, delivered, placed) and one that
# exists nowhere, for the not-found path.
ACTION_CUSTOMER = "cust-42"
ACTION_ORDERS = ("BC-204518", "BC-203749", "BC-204857", "BC-999999")
PLAIN_WARM_UP = 20
ACTION_WARM_UP = 2 * len(ACTION_ORDERS)


@dataclass(frozen=True)
class Server:
    label: str
    pythonpath: Path | None  # None: the code this benchmark imports


@dataclass(frozen=True)
class Checkout:
    """What a server will run: where its bot package is and the names of its settings (it
    refuses any other CXAGENT_* variable; an older checkout knows fewer, no actions before
    issue 11)."""

    bot_package: str
    settings: frozenset[str]


@dataclass(frozen=True)
class Turn:
    """One answered turn: the customer message's id, the client's time in ms and the reply."""

    message_id: int
    client_ms: float
    reply: dict[str, Any]


@dataclass(frozen=True)
class Measurement:
    checkout: Checkout
    plain: list[Turn]
    action_turns: dict[str, Any]  # action_report's; empty when none were sent


def bare_forward_ms(
    encoder: Encoder, questions: Sequence[str], count: int, warm_up: int = 20
) -> list[float]:
    """The served model in this process, one message at a time, back to back, warm (after
    ``warm_up`` passes not timed)."""
    for text in questions[:warm_up]:
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


def served_code(server: Server) -> tuple[dict[str, str], str | None]:
    """The environment and working folder in which a Python process imports the served
    checkout. ``python -m`` and ``-c`` put the working folder on sys.path before PYTHONPATH, so
    a server started from this checkout would serve this checkout whatever PYTHONPATH says."""
    if server.pythonpath is None:
        return dict(os.environ), None
    folder = str(server.pythonpath.resolve())
    return {**os.environ, "PYTHONPATH": folder}, folder


def inspect_checkout(server: Server) -> Checkout:
    env, cwd = served_code(server)
    script = (
        "import bot, bot.config; print(bot.__path__[0]); "
        "print(' '.join(bot.config.Settings.model_fields))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    package, names = result.stdout.splitlines()[-2:]
    return Checkout(package, frozenset(names.split()))


def server_env(
    settings: Settings, server: Server, checkout: Checkout, scratch: Path
) -> dict[str, str]:
    """The served process's environment: scratch storage, this checkout's knowledge base and
    models, and the identity secret and a scratch demo shop where the served checkout knows
    them. Actions and the shop's orders are the served checkout's own: their format moves with
    its code."""
    wanted = {
        "database_url": f"sqlite:///{scratch}/bench.db",
        "index_dir": f"{scratch}/index",
        "log_level": "warning",
        "base_model": settings.base_model,
        "nlu_bundle": str(settings.nlu_bundle or "none"),
        "knowledge_base": str(settings.knowledge_base),
        "identity_secret": IDENTITY_SECRET,
        "demo_shop_dir": f"{scratch}/demo-shop",
        # Every customer of a benchmark writes from one address, as fast as the bot answers.
        "rate_limits": "false",
    }
    env, _ = served_code(server)
    env.update(
        {
            ENV_PREFIX + name.upper(): value
            for name, value in wanted.items()
            if name in checkout.settings
        }
    )
    return env


def send_turns(
    client: Client,
    texts: list[str],
    customer: Callable[[int], dict[str, Any]],
    warm_up: int,
    per_conversation: int = 10,
) -> list[Turn]:
    """``texts`` sent one after another, ``per_conversation`` to a conversation, each started
    for ``customer(the index of its first text)``: the answered turns after the first
    ``warm_up`` texts."""
    turns: list[Turn] = []
    token, path, in_conversation = "", "", per_conversation
    for sent, text in enumerate(texts):
        if in_conversation == per_conversation:
            started = client.post("/api/conversations", customer(sent))
            token = started["customer_token"]
            path = f"/api/conversations/{started['conversation_id']}/messages"
            in_conversation = 0
        began = time.perf_counter()
        turn = client.post(path, {"text": text}, token)
        elapsed = 1000 * (time.perf_counter() - began)
        in_conversation += 1
        if turn["reply"] is None:
            # The rules handed this conversation to people (a run of complaints, say): the bot
            # is silent there, so the next message starts a new one.
            in_conversation = per_conversation
            continue
        if sent >= warm_up:
            turns.append(Turn(turn["message"]["id"], elapsed, turn["reply"]))
    return turns


def action_report(database: Path, turns: list[Turn]) -> dict[str, Any]:
    """The turns that called an action, from the server's own records (action_calls): the
    client's and the service's time, the action calls' and their share of the service's time.
    A checkout without actions (no action_calls table, no ``action`` decisions) says so, with
    the times of the same questions answered its way; ``turns`` is empty when the server
    answered none."""
    decisions = Counter(str(turn.reply.get("decision")) for turn in turns)
    report: dict[str, Any] = {"answered": len(turns), "decisions": dict(decisions)}
    with closing(sqlite3.connect(database)) as connection:
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'action_calls'"
        ).fetchone()
        rows = (
            connection.execute(
                "SELECT message_id, outcome, latency_ms FROM action_calls"
            ).fetchall()
            if has_table
            else []
        )
    without = (
        {
            "chat_turn_ms": summary([turn.client_ms for turn in turns]),
            "server_answer_ms": summary([float(turn.reply["latency_ms"]) for turn in turns]),
        }
        if turns
        else {}
    )
    if not has_table:
        note = "no action_calls table: this checkout has no actions; the same questions answered"
        return {**report, "action_turns": 0, "note": note, **without}
    call_ms: dict[int, float] = {}
    outcomes: Counter[str] = Counter()
    measured = {turn.message_id for turn in turns}
    for message_id, outcome, latency_ms in rows:
        if message_id in measured:
            call_ms[message_id] = call_ms.get(message_id, 0.0) + latency_ms
            outcomes[outcome] += 1
    acted = [turn for turn in turns if turn.message_id in call_ms]
    report["action_turns"] = len(acted)
    if not acted:
        note = "no turn called an action (no action decisions): the same questions answered"
        return {**report, "note": note, **without}
    service_ms = [float(turn.reply["latency_ms"]) for turn in acted]
    action_ms = [call_ms[turn.message_id] for turn in acted]
    report.update(
        {
            "action_calls": dict(outcomes),
            "chat_turn_ms": summary([turn.client_ms for turn in acted]),
            "server_answer_ms": summary(service_ms),
            "action_call_ms": summary(action_ms),
            "server_without_action_ms": summary(
                [total - action for total, action in zip(service_ms, action_ms, strict=True)]
            ),
            "action_share_of_server_time": {
                "median_of_turns": round(
                    statistics.median(
                        action / total for total, action in zip(service_ms, action_ms, strict=True)
                    ),
                    3,
                ),
                "of_sums": round(sum(action_ms) / sum(service_ms), 3),
            },
        }
    )
    return report


def customer(external_id: str, signing: str | None, name: str | None = None) -> dict[str, Any]:
    """The body that starts a conversation for a customer as the company's site names them:
    an identity token (``signing`` "token"), the id with its HMAC signature (``"hmac"``, as
    checkouts before identity tokens took it) or the bare id (None: the server checks nothing)."""
    named: dict[str, Any] = {"external_id": external_id}
    if name is not None:
        named["name"] = name
    if signing == "token":
        claims = {key: value for key, value in named.items() if key != "external_id"}
        expires = int(time.time()) + 3600
        token = jwt.encode({"sub": external_id, "exp": expires, **claims}, IDENTITY_SECRET)
        return {"identity_token": token}
    if signing == "hmac":
        key = IDENTITY_SECRET.encode()
        named["signature"] = hmac.new(key, external_id.encode(), hashlib.sha256).hexdigest()
    return {"customer": named}


def signing_of(checkout: Checkout) -> str | None:
    """How the served checkout wants its customers signed (see ``customer``)."""
    if "identity_secret" not in checkout.settings:
        return None
    identity = Path(checkout.bot_package) / "conversation" / "identity.py"
    return "token" if "identity_token" in identity.read_text(encoding="utf-8") else "hmac"


def measure_server(
    settings: Settings, server: Server, questions: list[str], messages: int, action_turns: int
) -> Measurement:
    """``messages`` plain turns (the held-out questions, customers of their own), then
    ``action_turns`` that ask where one of cust-42's orders is, each set after a warm-up, sent
    one after another."""
    port = free_port()
    checkout = inspect_checkout(server)
    signed = signing_of(checkout)
    with tempfile.TemporaryDirectory(prefix="cxagent-bench-") as scratch:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            env=server_env(settings, server, checkout, Path(scratch)),
            cwd=served_code(server)[1],
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process)
            client = Client(url)
            plain = send_turns(
                client,
                [questions[sent % len(questions)] for sent in range(PLAIN_WARM_UP + messages)],
                lambda sent: customer(f"bench-{sent}", signed, name="Sam"),
                warm_up=PLAIN_WARM_UP,
            )
            acted: list[Turn] = []
            if action_turns:
                acted = send_turns(
                    client,
                    [
                        f"Where is my order {ACTION_ORDERS[sent % len(ACTION_ORDERS)]}?"
                        for sent in range(ACTION_WARM_UP + action_turns)
                    ],
                    lambda sent: customer(ACTION_CUSTOMER, signed),
                    warm_up=ACTION_WARM_UP,
                )
            client.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
        report = action_report(Path(scratch) / "bench.db", acted) if action_turns else {}
    return Measurement(checkout, plain, report)


def chat_benchmark(
    settings: Settings, servers: list[Server], messages: int, action_turns: int
) -> dict[str, Any]:
    """Every server measured in turn, and the bare forward pass before the first and after the
    last (the strictest baseline: warm, with the cores to itself)."""
    from bot.runtime import served_encoder

    questions = [text for text, _ in read_heldout()]
    encoder = served_encoder(settings)
    forward_ms = bare_forward_ms(encoder, questions, messages // 2)
    measured = {
        server: measure_server(settings, server, questions, messages, action_turns)
        for server in servers
    }
    forward_ms += bare_forward_ms(encoder, questions, messages - messages // 2)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "messages": messages,
        "action_turns": action_turns,
        "encoder": encoder.name,
        "bare_forward_ms": summary(forward_ms),
        "servers": {},
    }
    for server, measurement in measured.items():
        turn_ms = [turn.client_ms for turn in measurement.plain]
        server_ms = [float(turn.reply["latency_ms"]) for turn in measurement.plain]
        ratio = percentile(turn_ms, 50) / percentile(forward_ms, 50)
        results["servers"][server.label] = {
            "pythonpath": None if server.pythonpath is None else str(server.pythonpath),
            "bot_package": measurement.checkout.bot_package,
            "answered_turns": len(turn_ms),
            "chat_turn_ms": summary(turn_ms),
            "server_answer_ms": summary(server_ms),
            "turn_p50_over_forward_p50": round(ratio, 2),
            "within_2x": ratio <= 2.0,
            "action_turns": measurement.action_turns,
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chat", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=500, help="messages to send each server")
    parser.add_argument(
        "--action-turns",
        type=int,
        default=100,
        metavar="N",
        help="then N turns that call an action (where is one of cust-42's orders); 0: none",
    )
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
    if args.messages < 1 or args.action_turns < 0:
        parser.error(
            f"--messages {args.messages} --action-turns {args.action_turns}: "
            "give at least one message and no negative count of action turns"
        )
    settings = settings_or_exit("benchmarks.chat")
    results = chat_benchmark(settings, servers, args.messages, args.action_turns)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
