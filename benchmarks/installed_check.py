"""Two running cxagent servers answer the demo's held-out questions alike: each question in a
conversation of its own, to both; the knowledge-base entry each server answers with is compared
with the other's and with the expected one.

    python -m benchmarks.installed_check http://127.0.0.1:8123 http://127.0.0.1:8124

Prints agreement and each server's accuracy as JSON; exit code 1 when the servers disagree on
any question (``.ci/install-check`` runs it against a wheel installed in a fresh environment).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.common import Client, read_heldout, wait_until_up


def compare(url_a: str, url_b: str) -> dict[str, Any]:
    questions = read_heldout()
    clients = Client(url_a), Client(url_b)
    answered: tuple[list[str | None], list[str | None]] = ([], [])
    for text, _ in questions:
        for client, entries in zip(clients, answered, strict=True):
            reply = client.ask(text)
            entries.append(None if reply is None else reply["entry_id"])
    for client in clients:
        client.close()
    gold = [entry_id for _, entry_id in questions]
    disagreements = [
        {"question": text, url_a: a, url_b: b}
        for (text, _), a, b in zip(questions, *answered, strict=True)
        if a != b
    ]
    return {
        "questions": len(questions),
        "agreement": 1 - len(disagreements) / len(questions),
        "accuracy": {
            url: sum(got == want for got, want in zip(entries, gold, strict=True)) / len(gold)
            for url, entries in zip((url_a, url_b), answered, strict=True)
        },
        "disagreements": disagreements,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.installed_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url_a", help="one server, such as http://127.0.0.1:8123")
    parser.add_argument("url_b", help="the other server")
    parser.add_argument(
        "--wait", type=float, default=300, help="seconds to wait for both to answer /health"
    )
    args = parser.parse_args(argv)
    for url in (args.url_a, args.url_b):
        wait_until_up(url.rstrip("/"), timeout=args.wait)
    results = compare(args.url_a.rstrip("/"), args.url_b.rstrip("/"))
    print(json.dumps(results, indent=2))
    return 0 if not results["disagreements"] else 1


if __name__ == "__main__":
    sys.exit(main())
