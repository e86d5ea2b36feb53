"""Delivery under load: no customer message lost or stored twice when many customers resend
the way the widget does, end the chat and write again, or write while a person is waited for.

    python -m benchmarks.resend_load [--customers 200] [--messages 4] [--bundle DIR|none]
                                     [--resend-after 5] [--seed 13]

A real ``cxagent serve`` of this checkout on a scratch SQLite database (started as
benchmarks.robustness starts it), then every customer at once (asyncio + httpx). Each starts a
conversation and sends ``--messages`` messages, each with its own client_message_id, and resends
a message as the widget does: with the same id when no answer came within ``--resend-after``
seconds (the first request still runs; the widget sends its unacknowledged messages again when
its socket reconnects, not on a timer, so this is a customer whose connection drops while the
answer is slow), now and then after the answer too (as after a lost acknowledgement), and now
and then as two copies at the same moment (two tabs). One customer in four
presses End chat half-way and writes again; one in four asks for a person (a lawyer, which
every rule set escalates, with or without the NLU bundle) and writes on while waiting. A 503 is
sent again after its Retry-After.

Afterwards every transcript is read back and the report counts the server errors (HTTP 5xx but
the documented 503, and dropped connections), the messages lost (acknowledged with a 200 but
absent from the transcript) and duplicated (one client_message_id stored twice, or
acknowledged as two different messages), and how many customers' tokens the server's log
holds (it must hold none). Prints JSON with the machine; exits 1 on any server error, lost or
duplicated message, token in the log, or when the server does not start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import CLIENT_KEEP_ALIVE_SECONDS, machine_info, settings_or_exit
from benchmarks.robustness import ServerFailed, serving, with_bundle
from bot.config import Settings

PROGRAM = "benchmarks.resend_load"
DEFAULT_CUSTOMERS = 200
DEFAULT_MESSAGES = 4
DEFAULT_RESEND_AFTER = 5.0
DEFAULT_SEED = 13
# How often a delivered message is sent once more (its acknowledgement "lost"), and how often a
# message goes out as two copies at once.
RESEND_ANYWAY = 0.2
TWO_AT_ONCE = 0.1
# A 503 without Retry-After is sent again after this many seconds.
RETRY_503_SECONDS = 1.0
# A request that takes longer has failed the benchmark (the server hangs).
REQUEST_SECONDS = 120.0
# Past this many server errors the server is broken, and the run stops.
MAX_SERVER_ERRORS = 1000
QUESTIONS = (
    "where is my order?",
    "can I pay with PayPal?",
    "how long do I have to return something?",
    "do you deliver to Scotland?",
    "I forgot my password",
    "hello? is anyone there?",
)
ASK_FOR_A_PERSON = "I want to speak to a person, or I will call my lawyer"


class Kind(StrEnum):
    """What a customer does besides writing."""

    WRITES = "writes"
    ENDS_AND_WRITES_AGAIN = "ends_and_writes_again"
    WAITS_FOR_A_PERSON = "waits_for_a_person"
    ENDS_AND_ASKS_FOR_A_PERSON = "ends_and_asks_for_a_person"


@dataclass
class Tally:
    """What the customers saw, as the requests answered."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    resends: int = 0
    ends: int = 0
    # client_message_id → the stored message ids its 200s named, per conversation
    acknowledged: dict[tuple[str, str], set[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    token: str
    kind: Kind


def kind_of(customer: int) -> Kind:
    return list(Kind)[customer % len(Kind)]


async def request(
    client: httpx.AsyncClient,
    tally: Tally,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    """One call, sent again after a 503 (as its Retry-After asks) or a dropped connection (a
    server error too) until another answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while True:
        try:
            response = await client.request(method, path, json=body, headers=headers)
        except httpx.TransportError as error:
            tally.server_errors.append(f"{method} {path}: connection dropped ({error!r})")
            if len(tally.server_errors) > MAX_SERVER_ERRORS:
                raise
            continue
        tally.statuses[response.status_code] += 1
        if response.status_code == 503:
            await asyncio.sleep(float(response.headers.get("Retry-After", RETRY_503_SECONDS)))
            continue
        if response.status_code >= 500:
            tally.server_errors.append(f"{method} {path}: {response.status_code}")
        return response


async def send_once(
    client: httpx.AsyncClient, tally: Tally, chat: Conversation, text: str, client_id: str
) -> None:
    response = await request(
        client,
        tally,
        "POST",
        f"/api/conversations/{chat.conversation_id}/messages",
        {"text": text, "client_message_id": client_id},
        chat.token,
    )
    if response.status_code == 200:
        message = response.json()["message"]
        key = (chat.conversation_id, client_id)
        tally.acknowledged.setdefault(key, set()).add(int(message["id"]))


async def deliver(
    client: httpx.AsyncClient,
    tally: Tally,
    chat: Conversation,
    text: str,
    client_id: str,
    rng: random.Random,
    resend_after: float,
) -> None:
    """Send a message as the widget does: again with the same id when the answer is slow (the
    first request still runs), sometimes as two copies at once, sometimes again afterwards."""
    copies = 2 if rng.random() < TWO_AT_ONCE else 1
    tally.resends += copies - 1
    tasks = [
        asyncio.create_task(send_once(client, tally, chat, text, client_id)) for _ in range(copies)
    ]
    _, slow = await asyncio.wait(tasks, timeout=resend_after)
    if slow:
        tally.resends += 1
        tasks.append(asyncio.create_task(send_once(client, tally, chat, text, client_id)))
    await asyncio.gather(*tasks)
    if rng.random() < RESEND_ANYWAY:
        tally.resends += 1
        await send_once(client, tally, chat, text, client_id)


async def customer(
    client: httpx.AsyncClient,
    tally: Tally,
    number: int,
    messages: int,
    resend_after: float,
    seed: int,
) -> Conversation | None:
    rng = random.Random(seed * 100_003 + number)
    started = await request(client, tally, "POST", "/api/conversations", {})
    if started.status_code != 201:
        return None
    body = started.json()
    chat = Conversation(body["conversation_id"], body["customer_token"], kind_of(number))
    halfway = messages // 2
    for sent in range(messages):
        text = rng.choice(QUESTIONS)
        if chat.kind in (Kind.ENDS_AND_WRITES_AGAIN, Kind.ENDS_AND_ASKS_FOR_A_PERSON):
            if sent == halfway:
                tally.ends += 1
                end = f"/api/conversations/{chat.conversation_id}/end"
                await request(client, tally, "POST", end, token=chat.token)
                if chat.kind is Kind.ENDS_AND_ASKS_FOR_A_PERSON:
                    text = ASK_FOR_A_PERSON
        elif chat.kind is Kind.WAITS_FOR_A_PERSON and sent == 0:
            text = ASK_FOR_A_PERSON
        await deliver(client, tally, chat, text, f"c{number}-m{sent}", rng, resend_after)
    return chat


async def read_transcript(
    client: httpx.AsyncClient, tally: Tally, chat: Conversation
) -> dict[str, Any]:
    """The conversation as its customer reads it back: its status and messages."""
    response = await request(
        client,
        tally,
        "GET",
        f"/api/conversations/{chat.conversation_id}/messages",
        token=chat.token,
    )
    response.raise_for_status()
    transcript: dict[str, Any] = response.json()
    return transcript


async def stored_ids(
    client: httpx.AsyncClient, tally: Tally, chat: Conversation
) -> tuple[Counter[str], str]:
    """How often each client_message_id is stored in the conversation, and its status."""
    transcript = await read_transcript(client, tally, chat)
    ids = Counter(
        m["client_message_id"]
        for m in transcript["messages"]
        if m["role"] == "customer" and m["client_message_id"]
    )
    return ids, str(transcript["status"])


async def run_customers(
    url: str, customers: int, messages: int, resend_after: float, seed: int
) -> tuple[list[str], dict[str, Any]]:
    """Every customer at once, then every transcript read back: the customers' tokens and the
    counts of the report."""
    tally = Tally()
    limits = httpx.Limits(
        max_connections=4 * customers,
        max_keepalive_connections=4 * customers,
        keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS,
    )
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_SECONDS, limits=limits) as client:
        began = time.perf_counter()
        chats = await asyncio.gather(
            *(customer(client, tally, n, messages, resend_after, seed) for n in range(customers))
        )
        elapsed = time.perf_counter() - began
        started = [chat for chat in chats if chat is not None]
        stored = await asyncio.gather(*(stored_ids(client, tally, chat) for chat in started))
    lost: list[str] = []
    duplicated: list[str] = []
    for chat, (ids, _) in zip(started, stored, strict=True):
        for client_id in sorted(ids):
            if ids[client_id] > 1:
                duplicated.append(f"{chat.conversation_id} {client_id}: stored {ids[client_id]}x")
        for (conversation_id, client_id), message_ids in sorted(tally.acknowledged.items()):
            if conversation_id != chat.conversation_id:
                continue
            if client_id not in ids:
                lost.append(f"{conversation_id} {client_id}")
            elif len(message_ids) > 1:
                duplicated.append(f"{conversation_id} {client_id}: acknowledged as {message_ids}")
    return [chat.token for chat in started], {
        "customers": customers,
        "started": len(started),
        "messages_each": messages,
        "acknowledged": len(tally.acknowledged),
        "resends": tally.resends,
        "ends": tally.ends,
        "statuses": {str(code): count for code, count in sorted(tally.statuses.items())},
        "final_statuses": dict(Counter(status for _, status in stored)),
        "seconds": round(elapsed, 2),
        "server_errors": len(tally.server_errors),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "examples": {
            "server_errors": tally.server_errors[:10],
            "lost": lost[:10],
            "duplicated": duplicated[:10],
        },
    }


def resend_load(
    settings: Settings, customers: int, messages: int, resend_after: float, seed: int
) -> dict[str, Any]:
    """The report of one run against a fresh server."""
    with tempfile.TemporaryDirectory(prefix="cxagent-resend-load-") as scratch:
        log_path = Path(scratch) / "server.log"
        with log_path.open("w") as log, serving(settings, Path(scratch), log) as (url, health):
            tokens, counts = asyncio.run(
                run_customers(url, customers, messages, resend_after, seed)
            )
        log_text = log_path.read_text(errors="replace")
    # Tokens open conversations: the server's log must never hold one.
    counts["server_log_lines"] = log_text.count("\n")
    counts["tokens_in_log"] = sum(token in log_text for token in tokens)
    return {
        "benchmark": PROGRAM,
        "machine": machine_info(),
        "server": {
            "encoder": health.get("encoder"),
            "knowledge_base_entries": health.get("knowledge_base_entries"),
            "nlu_bundle": str(settings.nlu_bundle) if settings.nlu_bundle else None,
        },
        "resend_after_s": resend_after,
        "seed": seed,
        **counts,
    }


def failed(report: dict[str, Any]) -> bool:
    return bool(
        report["server_errors"] or report["lost"] or report["duplicated"] or report["tokens_in_log"]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.resend_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS, metavar="N")
    parser.add_argument(
        "--messages", type=int, default=DEFAULT_MESSAGES, metavar="N", help="messages per customer"
    )
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        help="the NLU bundle to serve, or `none` for retrieval alone "
        "(default: CXAGENT_NLU_BUNDLE or the demo's)",
    )
    parser.add_argument(
        "--resend-after",
        type=float,
        default=DEFAULT_RESEND_AFTER,
        metavar="SECONDS",
        help=f"resend a message not answered by then (default {DEFAULT_RESEND_AFTER})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.customers < 1 or args.messages < 1:
        parser.error(
            f"--customers {args.customers} --messages {args.messages}: both must be at least 1"
        )
    if args.resend_after <= 0:
        parser.error(f"--resend-after {args.resend_after}: must be more than 0")
    if args.bundle is not None and args.bundle.lower() != "none" and not Path(args.bundle).is_dir():
        parser.error(f"--bundle {args.bundle}: no such folder")
    settings = settings_or_exit(PROGRAM)
    if args.bundle is not None:
        settings = with_bundle(settings, args.bundle)
    try:
        report = resend_load(settings, args.customers, args.messages, args.resend_after, args.seed)
    except ServerFailed as error:
        print(f"{PROGRAM}: error: the server did not start: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
