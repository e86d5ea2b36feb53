"""How well the whole bot copes with messages as customers type them: a real ``cxagent serve``
over HTTP, judged on three sets of first messages.

    python -m benchmarks.robustness [--seed 13] [--bundle DIR|none] [--written CSV]

- clean: the demo's held-out questions (data/heldout_questions.csv); the right intent is the
  prefix of each question's entry id.
- typos: the same questions with one or two seeded slips each, sometimes lower-cased or without
  punctuation (benchmarks/typos.py); the same seed gives the same set.
- written: benchmarks/written_messages.csv, messages written the way customers type in a shop's
  chat (slang, emoji, no punctuation, two questions in one), each question labelled with the
  intents that would answer it right.

Every message opens a conversation of its own, from an anonymous customer, on a server with a
scratch SQLite database. Afterwards the database says what the bot did with each question it
read in the message (the customer message's ``questions``, or the bot's one reply where there is
none). A message is *right* when every labelled question got an answer of one of its right
intents (an action or form started for a right intent counts, and so does a hand-over to
people when that is what was asked for); *wrong* when the bot answered any question with an
intent no question of the message wanted (a confident wrong answer); *asked* otherwise (a
clarifying question, not sure, out of scope, the offer of a person, or only some questions
answered). Prints JSON (per set the counts, fractions, targets and the failures, with the
machine and the model), then a markdown table. Exits 0 whatever the numbers; 1 when the server
does not start.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from itertools import permutations
from pathlib import Path
from typing import Any, TextIO

from benchmarks.chat import Server, inspect_checkout, served_code, server_env
from benchmarks.common import (
    Client,
    free_port,
    machine_info,
    read_heldout,
    settings_or_exit,
    wait_until_up,
)
from benchmarks.typos import misspell_all
from bot.config import ENV_PREFIX, Settings

# Seconds a server has to stop before it is killed with its worker processes.
STOP_SECONDS = 60

PROGRAM = "benchmarks.robustness"
WRITTEN_MESSAGES = Path(__file__).with_name("written_messages.csv")
DEFAULT_SEED = 13
# Decisions that answer from a knowledge-base entry, and those that start an action.
ANSWERED = frozenset({"intent", "answer"})
ACTED = frozenset({"action", "action_failed", "form"})
HANDED_OVER = "handoff"
# A greeting or thanks beside a question is manners, not a wrong answer.
COURTESY = frozenset({"greeting", "thanks", "goodbye"})
# How much of a failing reply the report quotes.
REPLY_CHARS = 160


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    ASKED = "asked"


@dataclass(frozen=True)
class Target:
    """What the issue asks of a set: the share right at least, and the share wrong at most."""

    right_at_least: float
    wrong_at_most: float | None = None

    def met(self, right: float, wrong: float) -> bool:
        return right >= self.right_at_least and (
            self.wrong_at_most is None or wrong <= self.wrong_at_most
        )


TARGETS = {
    "clean": Target(right_at_least=0.93),
    "typos": Target(right_at_least=0.90, wrong_at_most=0.04),
    "written": Target(right_at_least=0.90),
}


@dataclass(frozen=True)
class Case:
    """A message to send: for each question in it, the intents that answer it right; and the
    text it was made from, for typos."""

    text: str
    right: tuple[frozenset[str], ...]
    clean_text: str | None = None


@dataclass(frozen=True)
class BotQuestion:
    """One question the bot read in a message and what it did with it: the text it read, the
    intent, the entry that answered (or None) and the decision."""

    text: str | None
    intent: str | None
    entry_id: str | None
    decision: str | None


@dataclass(frozen=True)
class Answer:
    """What the bot did with a message: each question it read, and its reply's text."""

    questions: tuple[BotQuestion, ...]
    reply: str | None


def intent_of(entry_id: str | None) -> str | None:
    """``track_order.where_is_my_order`` -> ``track_order``."""
    return None if entry_id is None else entry_id.split(".", 1)[0]


def parse_right(labels: str) -> tuple[frozenset[str], ...]:
    """``"delivery_time delivery_cost;payment_methods"`` -> one set of right intents per
    question."""
    return tuple(frozenset(question.split()) for question in labels.split(";"))


def format_right(right: tuple[frozenset[str], ...]) -> str:
    return ";".join(" ".join(sorted(question)) for question in right)


def clean_cases() -> list[Case]:
    return [
        Case(text, (frozenset({str(intent_of(entry_id))}),)) for text, entry_id in read_heldout()
    ]


def typo_cases(clean: list[Case], seed: int) -> list[Case]:
    misspelt = misspell_all([case.text for case in clean], seed)
    return [
        Case(typed.text, case.right, clean_text=case.text)
        for case, typed in zip(clean, misspelt, strict=True)
    ]


def written_cases(path: Path = WRITTEN_MESSAGES) -> list[Case]:
    """The written messages: columns ``text,right_intents``."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Case(row["text"], parse_right(row["right_intents"])) for row in csv.DictReader(handle)
        ]


def committed(question: BotQuestion, wanted: frozenset[str]) -> frozenset[str]:
    """The intents the bot committed to for one question it read; empty when it committed to
    none. An answer commits to its entry's intent; an action or a form to the intent it read and
    to the entry that started it (either being right, the bot started the right action); a
    hand-over to people only when the intent read is one the message wanted (a person is what
    "can I talk to someone" asks for), since people read whatever else it hands over."""
    if question.decision in ANSWERED:
        read = {intent_of(question.entry_id)}
    elif question.decision in ACTED:
        read = {intent_of(question.entry_id), question.intent}
    elif question.decision == HANDED_OVER and question.intent in wanted:
        read = {question.intent}
    else:
        read = set()
    return frozenset(intent for intent in read if intent is not None)


def judge(questions: Sequence[BotQuestion], right: tuple[frozenset[str], ...]) -> Verdict:
    """Right when each labelled question is matched by a question of its own that the bot
    committed to with a right intent; wrong when the bot committed to an intent no question
    wanted; asked otherwise."""
    wanted = frozenset().union(*right)
    commits = [intents for question in questions if (intents := committed(question, wanted))]
    manners = [intents for intents in commits if intents <= COURTESY and not intents & wanted]
    if len(manners) < len(commits):
        commits = [intents for intents in commits if intents not in manners]
    if any(not intents & wanted for intents in commits):
        return Verdict.WRONG
    matched = any(
        all(intents & question for intents, question in zip(chosen, right, strict=True))
        for chosen in permutations(commits, len(right))
    )
    return Verdict.RIGHT if matched else Verdict.ASKED


def send_first_messages(client: Client, texts: Sequence[str]) -> list[int]:
    """Each text as the first message of a conversation of its own, from an anonymous
    customer: the stored customer messages' ids."""
    ids = []
    for text in texts:
        started = client.post("/api/conversations", {})
        path = f"/api/conversations/{started['conversation_id']}/messages"
        turn = client.post(path, {"text": text}, started["customer_token"])
        ids.append(int(turn["message"]["id"]))
    return ids


def _questions(customer: sqlite3.Row, reply: sqlite3.Row | None) -> tuple[BotQuestion, ...]:
    """The questions the bot read in a customer message: its ``questions`` column when the
    schema has one and it is filled, else the message as one question answered by the reply."""
    stored = customer["questions"]
    read = json.loads(stored) if isinstance(stored, str) else stored
    if read:
        return tuple(
            BotQuestion(
                item.get("text"), item.get("intent"), item.get("entry_id"), item.get("decision")
            )
            for item in read
        )
    return (
        BotQuestion(
            customer["text"],
            customer["intent"],
            None if reply is None else reply["entry_id"],
            None if reply is None else reply["decision"],
        ),
    )


def read_answers(database: Path, message_ids: Sequence[int]) -> list[Answer]:
    """What the bot did with each customer message, from the server's own records."""
    with closing(sqlite3.connect(database)) as connection:
        connection.row_factory = sqlite3.Row
        columns = {row["name"] for row in connection.execute("PRAGMA table_info(messages)")}
        # The per-question record is newer than some checkouts this may serve.
        questions = "questions" if "questions" in columns else "NULL AS questions"
        customers = {
            row["id"]: row
            for row in connection.execute(
                f"SELECT id, text, intent, {questions} FROM messages WHERE role = 'customer'"
            )
        }
        replies = {
            row["reply_to_id"]: row
            for row in connection.execute(
                "SELECT reply_to_id, text, entry_id, decision FROM messages "
                "WHERE role = 'bot' AND reply_to_id IS NOT NULL"
            )
        }
    return [
        Answer(
            _questions(customers[message_id], replies.get(message_id)),
            None if message_id not in replies else replies[message_id]["text"],
        )
        for message_id in message_ids
    ]


class ServerFailed(RuntimeError):
    """The server did not start or did not answer its health check."""


@contextmanager
def serving(
    settings: Settings,
    scratch: Path,
    log: TextIO | None = None,
    environment: Mapping[str, str] | None = None,
    serve_arguments: Sequence[str] = (),
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A ``cxagent serve`` of this checkout on a free port and a scratch database in
    ``scratch``, as benchmarks.chat starts it (``environment`` over its settings, and
    ``serve_arguments`` such as ``--workers 2``): its URL and its health report. Its output goes
    to ``log`` when given (at level info), else to stderr."""
    import httpx

    server = Server("this checkout", None)
    port = free_port()
    env = server_env(settings, server, inspect_checkout(server), scratch)
    if log is not None:  # a log kept is kept at level info (the access log stays as served)
        env[ENV_PREFIX + "LOG_LEVEL"] = "info"
    env.update(environment or {})
    # A session of its own: a server that will not stop is killed with its worker processes.
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *serve_arguments],
        env=env,
        cwd=served_code(server)[1],
        stdout=log or sys.stderr,  # stdout is the report's
        stderr=log,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process)
        except RuntimeError as error:
            raise ServerFailed(str(error)) from None
        yield url, httpx.get(url + "/health", timeout=10).json()
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def ask_the_bot(settings: Settings, texts: Sequence[str]) -> tuple[list[Answer], dict[str, Any]]:
    """Every text sent to a fresh server: what the bot did with each, and the server's health
    report (its encoder and knowledge base)."""
    with tempfile.TemporaryDirectory(prefix="cxagent-robustness-") as scratch:
        with serving(settings, Path(scratch)) as (url, health):
            client = Client(url)
            message_ids = send_first_messages(client, texts)
            client.close()
        return read_answers(Path(scratch) / "bench.db", message_ids), health


def failure(case: Case, answer: Answer) -> dict[str, Any]:
    """A failed message as a person reads it: what was sent, what was right, what the bot did."""
    shown: dict[str, Any] = {"text": case.text, "right_intents": format_right(case.right)}
    if case.clean_text is not None:
        shown["clean_text"] = case.clean_text
    shown["bot"] = [
        {"read": q.text, "intent": q.intent, "decision": q.decision, "entry_id": q.entry_id}
        for q in answer.questions
    ]
    shown["reply"] = None if answer.reply is None else answer.reply[:REPLY_CHARS]
    return shown


def set_report(cases: Sequence[Case], answers: Sequence[Answer], target: Target) -> dict[str, Any]:
    verdicts = [
        judge(answer.questions, case.right) for case, answer in zip(cases, answers, strict=True)
    ]
    counts = Counter(verdicts)
    size = len(cases)
    share = {verdict: counts[verdict] / size for verdict in Verdict}
    report: dict[str, Any] = {"size": size}
    for verdict in Verdict:
        report[verdict.value] = {"count": counts[verdict], "fraction": round(share[verdict], 3)}
    report["target"] = {
        "right_at_least": target.right_at_least,
        "wrong_at_most": target.wrong_at_most,
        "met": target.met(share[Verdict.RIGHT], share[Verdict.WRONG]),
    }
    for verdict in (Verdict.WRONG, Verdict.ASKED):
        report[f"{verdict.value}_messages"] = [
            failure(case, answer)
            for case, answer, judged in zip(cases, answers, verdicts, strict=True)
            if judged is verdict
        ]
    return report


def model_info(settings: Settings, health: dict[str, Any]) -> dict[str, Any]:
    """The model the server answered with: its encoder as the server names it, and the
    bundle's folder and training date."""
    from finetune.bundle_format import read_info

    bundle = settings.nlu_bundle
    return {
        "encoder": health.get("encoder"),
        "nlu_bundle": None if bundle is None else str(bundle),
        "bundle_created_at": None if bundle is None else read_info(bundle).created_at,
        "knowledge_base": str(settings.knowledge_base),
        "knowledge_base_entries": health.get("knowledge_base_entries"),
    }


def robustness_benchmark(settings: Settings, seed: int, written: Path) -> dict[str, Any]:
    clean = clean_cases()
    sets = {"clean": clean, "typos": typo_cases(clean, seed), "written": written_cases(written)}
    texts = [case.text for cases in sets.values() for case in cases]
    answers, health = ask_the_bot(settings, texts)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "model": model_info(settings, health),
        "seed": seed,
        "sets": {},
    }
    start = 0
    for name, cases in sets.items():
        mine = answers[start : start + len(cases)]
        results["sets"][name] = set_report(cases, mine, TARGETS[name])
        start += len(cases)
    return results


def _percent(part: dict[str, Any]) -> str:
    return f"{100 * part['fraction']:.1f}% ({part['count']})"


def robustness_table(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    rows = [
        "| set | messages | right | wrong | asked | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, report in results["sets"].items():
        target = report["target"]
        wanted = f"right ≥ {100 * target['right_at_least']:.0f}%"
        if target["wrong_at_most"] is not None:
            wanted += f", wrong ≤ {100 * target['wrong_at_most']:.0f}%"
        rows.append(
            f"| {name} | {report['size']} | {_percent(report['right'])} | "
            f"{_percent(report['wrong'])} | {_percent(report['asked'])} | {wanted} | "
            f"{'yes' if target['met'] else 'no'} |"
        )
    return "\n".join(rows)


def with_bundle(settings: Settings, bundle: str) -> Settings:
    """The settings with another NLU bundle (``none``: the plain base model)."""
    return settings.model_copy(
        update={"nlu_bundle": None if bundle.lower() == "none" else Path(bundle)}
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.robustness", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the typos (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        help="the NLU bundle to serve, or `none` (default: CXAGENT_NLU_BUNDLE or the demo's)",
    )
    parser.add_argument(
        "--written",
        type=Path,
        default=WRITTEN_MESSAGES,
        metavar="CSV",
        help="the written messages (text,right_intents; default benchmarks/written_messages.csv)",
    )
    args = parser.parse_args(argv)
    if args.bundle is not None and args.bundle.lower() != "none" and not Path(args.bundle).is_dir():
        parser.error(f"--bundle {args.bundle}: no such folder")
    if not args.written.is_file():
        parser.error(f"--written {args.written}: no such file")
    settings = settings_or_exit(PROGRAM)
    if args.bundle is not None:
        settings = with_bundle(settings, args.bundle)
    try:
        results = robustness_benchmark(settings, args.seed, args.written)
    except ServerFailed as error:
        print(f"{PROGRAM}: error: the server did not start: {error}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2, ensure_ascii=False))
    print(robustness_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
