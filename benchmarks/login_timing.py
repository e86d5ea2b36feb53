"""Does a log-in's answer time tell which staff accounts exist? Wrong passwords for a known
account against any password for unknown usernames, over HTTP to a real ``cxagent serve``.

    python -m benchmarks.login_timing [--rounds 200]

A real ``cxagent serve`` of this checkout on a scratch SQLite database (started as
benchmarks.robustness starts it, retrieval alone, rate limits off so that no lockout answers
first), with one staff account. Each round sends one log-in with that account and a wrong
password and one with an unknown username, in an order that alternates, so drift on a noisy
machine falls on both alike. Prints JSON with the machine: each kind's answers by status, its
median and quartiles in milliseconds, and the difference of the medians beside the spread of
either kind. Exits 1 when an answer is not the 401 expected.
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
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import machine_info, settings_or_exit
from benchmarks.robustness import ServerFailed, serving, with_bundle
from bot.config import ENV_PREFIX

PROGRAM = "benchmarks.login_timing"
DEFAULT_ROUNDS = 200
USERNAME = "timing-bench"
PASSWORD = "a right password for the timing benchmark"


def add_account(scratch: Path) -> None:
    """The one known account, made with ``cxagent add-staff`` in the served database."""
    environ = {**os.environ, ENV_PREFIX + "DATABASE_URL": f"sqlite:///{scratch}/bench.db"}
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "add-staff", USERNAME],
        input=PASSWORD + "\n",
        env=environ,
        check=True,
        capture_output=True,
        text=True,
    )


def timed_log_in(client: httpx.Client, username: str, password: str) -> tuple[int, float]:
    began = time.perf_counter()
    response = client.post("/api/staff/login", json={"username": username, "password": password})
    return response.status_code, 1000 * (time.perf_counter() - began)


def summary(statuses: Counter[int], milliseconds: list[float]) -> dict[str, Any]:
    quartiles = statistics.quantiles(milliseconds, n=4)
    return {
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "median_ms": round(statistics.median(milliseconds), 2),
        "quartiles_ms": [round(quartiles[0], 2), round(quartiles[2], 2)],
    }


def log_in_times(url: str, rounds: int) -> dict[str, Any]:
    kinds = {
        "known_user_wrong_password": (USERNAME, "not the password"),
        "unknown_user": ("nobody-here", "not the password"),
    }
    statuses: dict[str, Counter[int]] = {kind: Counter() for kind in kinds}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    with httpx.Client(base_url=url, timeout=30) as client:
        timed_log_in(client, USERNAME, "a first request, not counted")
        for round_number in range(rounds):
            order = list(kinds) if round_number % 2 == 0 else list(reversed(kinds))
            for kind in order:
                status, elapsed = timed_log_in(client, *kinds[kind])
                statuses[kind][status] += 1
                times[kind].append(elapsed)
    report = {kind: summary(statuses[kind], times[kind]) for kind in kinds}
    medians = [report[kind]["median_ms"] for kind in kinds]
    spreads = [report[kind]["quartiles_ms"][1] - report[kind]["quartiles_ms"][0] for kind in kinds]
    return {
        **report,
        "difference_of_medians_ms": round(medians[0] - medians[1], 2),
        "interquartile_range_ms": round(min(spreads), 2),
    }


def login_timing(rounds: int) -> dict[str, Any]:
    settings = with_bundle(settings_or_exit(PROGRAM), "none")
    with (
        tempfile.TemporaryDirectory(prefix="cxagent-login-timing-") as scratch,
        serving(settings, Path(scratch)) as (url, _),
    ):
        add_account(Path(scratch))
        times = log_in_times(url, rounds)
    return {"benchmark": PROGRAM, "machine": machine_info(), "rounds": rounds, **times}


def unexpected_answers(report: dict[str, Any]) -> bool:
    kinds = ("known_user_wrong_password", "unknown_user")
    return any(set(report[kind]["statuses"]) != {"401"} for kind in kinds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROGRAM}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"log-ins of each kind (default {DEFAULT_ROUNDS})",
    )
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    try:
        report = login_timing(args.rounds)
    except ServerFailed as error:
        print(f"{PROGRAM}: the server did not start: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 1 if unexpected_answers(report) else 0


if __name__ == "__main__":
    sys.exit(main())
