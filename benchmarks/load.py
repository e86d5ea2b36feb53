"""Throughput and latency under load: many customers at once over REST and over the WebSocket,
on SQLite and on PostgreSQL, with one and with several server processes; beside them, in the
same run, one customer alone and the bare forward pass of each runtime; and the machine.

    python -m benchmarks.load [--customers 50] [--seconds 20] [--warm-up 3] [--timeout 30]
                              [--transports rest,ws] [--databases sqlite,postgresql]
                              [--workers 1,2] [--runtimes pytorch,onnx-fp32,onnx-int8]
                              [--bundle DIR|none] [--messages FILE] [--postgres-url URL]
                              [--redis-url URL] [--json-out FILE]

The server is a real ``cxagent serve`` of this checkout (``--workers N`` when N > 1), one for
each database and number of workers, each on a fresh database: a scratch SQLite file, or a
scratch PostgreSQL database made beside ``--postgres-url``'s and dropped afterwards. Several
workers share live events through Redis (``--redis-url``); on SQLite they take turns to write
to one file, which the server allows with a warning. Rate limits are off: every customer writes
from one address. The NLU bundle is served on ONNX Runtime: one without a current export is
copied and exported first (``cxagent export-onnx`` with the demo's test data), unless
CXAGENT_INFERENCE_RUNTIME=pytorch.

In each scenario every customer starts a conversation, then sends messages back to back (no
think time; by default six short questions in turn, or the ``text`` column of ``--messages``,
such as benchmarks/written_messages.csv: slang, emoji, typos, two questions in one), each with
its own client_message_id, for ``--warm-up`` seconds and then ``--seconds`` more; the turns that
end in that second stretch are measured. A customer does what the widget does: after a 503 with
Retry-After (or an error frame with ``retry_after``) it waits that long, and up to 30% longer at
random, and sends the same message again with the same client_message_id; after a timeout or a
dropped connection it sends it again at once (on a new socket). A conversation handed to a
person is left for a new one. A turn's time (``turn_ms``) runs from sending the attempt that was
taken to its answer (the REST response, or the socket's ``reply`` frame); ``message_ms`` from
the message's first attempt, waits and resends included. Afterwards every transcript is read
back: each acknowledged message must be stored exactly once, and each reply.

Before any server starts each runtime's bare forward pass is timed in this process. The first
server also serves one customer alone over each transport, and the bare pass of the runtime
that serves it is timed again in blocks between that customer's turns, so the lone turn's p50
stands beside a pass that met the same machine (PassesBeside), and, on one worker, beside the
pass timed back to back before (alone_report says why both).

Prints JSON (or writes it to ``--json-out``), then a markdown table: per scenario messages/s,
p50/p95/p99, errors by kind and the stored-once check; then the servers that did not run, the
lone customer beside the bare forward passes, and the machine. Exits 1 when a customer met a
server error (a 5xx but the documented 503 with Retry-After, an error frame without
``retry_after``, an unexpected 4xx), when a message or a reply was lost or stored twice, or when
a server or the export failed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TextIO

import aiohttp
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

from benchmarks.chat import bare_forward_ms
from benchmarks.common import (
    CLIENT_KEEP_ALIVE_SECONDS,
    machine_info,
    percentile,
    read_heldout,
    settings_or_exit,
)
from benchmarks.resend_load import (
    MAX_SERVER_ERRORS,
    QUESTIONS,
    RETRY_503_SECONDS,
    Conversation,
    Kind,
    Tally,
    read_transcript,
)
from benchmarks.robustness import ServerFailed, serving, with_bundle
from bot.config import DEMO_DIR, ENV_PREFIX, Settings
from retrieval.encoder import Encoder

PROGRAM = "benchmarks.load"
DEFAULT_CUSTOMERS = 50
DEFAULT_SECONDS = 20.0
DEFAULT_WARM_UP = 3.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_FORWARD_PASSES = 200
# The test server of the project's tests (tests/helpers/service.py): trust, user postgres.
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# A message still refused this long after the window closed is given up (the server is stuck).
GIVE_UP_SECONDS = 60.0
# After a dropped connection, before connecting again (a server restarting is not hammered).
RECONNECT_SECONDS = 0.2
# How many examples of each error and each storage problem the report quotes.
EXAMPLES = 10
# How much of a server's own log a failed start quotes.
LOG_TAIL_LINES = 20


class Transport(StrEnum):
    REST = "rest"
    WS = "ws"


class Database(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class RuntimeName(StrEnum):
    """What runs the forward pass; the names of the export report (finetune.onnx_runtime)."""

    PYTORCH = "pytorch"
    ONNX_FP32 = "onnx-fp32"
    ONNX_INT8 = "onnx-int8"


class ErrorKind(StrEnum):
    """What went wrong with one attempt to send a message."""

    BUSY = "busy_503"  # the documented overload answer: sent again after its Retry-After
    SERVER_ERROR = "server_error"  # any other 5xx
    WS_ERROR = "ws_error"  # an error frame without retry_after: the message was refused
    REFUSED = "refused_4xx"  # a valid message refused: the benchmark or the server is wrong
    CONNECTION = "connection"  # refused or dropped: sent again on a new connection
    TIMEOUT = "timeout"  # no answer within --timeout: sent again


# Errors a customer must never see, whatever the load.
FAILING_ERRORS = frozenset({ErrorKind.SERVER_ERROR, ErrorKind.WS_ERROR, ErrorKind.REFUSED})


class Problem(StrEnum):
    """What reading the transcripts back can find."""

    LOST = "lost"  # acknowledged, not in the transcript
    DUPLICATED = "duplicated"  # stored twice, or acknowledged as two stored messages
    REPLY_LOST = "reply_lost"  # received, not in the transcript
    REPLY_DUPLICATED = "reply_duplicated"  # two bot replies to one customer message


class Outcome(StrEnum):
    ANSWERED = "answered"
    HANDED_OVER = "handed_over"  # stored, no reply: a person is waited for
    FAILED = "failed"  # refused for good, or given up


@dataclass(frozen=True)
class ServerSetup:
    """One server of the run: its database and number of processes. Several share live events
    through Redis."""

    database: Database
    workers: int

    @property
    def redis(self) -> bool:
        return self.workers > 1

    @property
    def label(self) -> str:
        processes = "1 worker" if self.workers == 1 else f"{self.workers} workers"
        return f"{self.database} · {processes}" + (" · redis" if self.redis else "")


@dataclass(frozen=True)
class Window:
    """When a scenario measures, in ``time.perf_counter`` seconds: turns that end from
    ``opens`` until ``closes`` count; no message is started after ``closes``; one still refused
    at ``gives_up`` is given up."""

    opens: float
    closes: float
    gives_up: float

    @classmethod
    def starting_now(cls, warm_up: float, seconds: float) -> Window:
        opens = time.perf_counter() + warm_up
        return cls(opens, opens + seconds, opens + seconds + GIVE_UP_SECONDS)

    def measures(self, moment: float) -> bool:
        return self.opens <= moment < self.closes


@dataclass(frozen=True)
class Answered:
    """A message the server took: its acknowledged message and its reply (None when a person
    is waited for), and when (``time.perf_counter`` seconds) the customer first sent it, sent
    the attempt that was taken, and had the answer."""

    client_id: str
    message: dict[str, Any]
    reply: dict[str, Any] | None
    first_sent: float
    sent: float
    ended: float


@dataclass
class Record:
    """What a scenario's customers saw."""

    window: Window
    # The turns that ended in the window: from the attempt that was taken to its answer, and
    # from the message's first attempt (busy waits and resends included).
    turn_ms: list[float] = field(default_factory=list)
    message_ms: list[float] = field(default_factory=list)
    errors: Counter[ErrorKind] = field(default_factory=Counter)
    error_examples: Counter[str] = field(default_factory=Counter)
    given_up: int = 0
    conversations: list[Conversation] = field(default_factory=list)
    # conversation id → client_message_id → the stored message ids its acknowledgements named
    acknowledged: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    # conversation id → the ids of the replies received
    replies: dict[str, set[int]] = field(default_factory=dict)
    # Run in this process after each answer measured, before the customer writes again (the
    # lone customer's PassesBeside).
    after_answer: Callable[[], None] | None = None

    def answered(self, chat: Conversation, answered: Answered) -> None:
        acknowledged = self.acknowledged.setdefault(chat.conversation_id, {})
        acknowledged.setdefault(answered.client_id, set()).add(int(answered.message["id"]))
        if answered.reply is not None:
            self.replies.setdefault(chat.conversation_id, set()).add(int(answered.reply["id"]))
        if self.window.measures(answered.ended):
            self.turn_ms.append(1000 * (answered.ended - answered.sent))
            self.message_ms.append(1000 * (answered.ended - answered.first_sent))
            if self.after_answer is not None:
                self.after_answer()

    def error(self, kind: ErrorKind, detail: str) -> None:
        self.errors[kind] += 1
        example = f"{kind}: {detail}"
        if example in self.error_examples or len(self.error_examples) < EXAMPLES:
            self.error_examples[example] += 1


# The widget waits up to this much longer than a refusal's retry_after, at random (JITTER in
# bot/web/shared/backoff.js), so that the customers refused together do not come back together.
WIDGET_JITTER = 0.3


async def wait_as_the_widget(retry_after: float) -> None:
    await asyncio.sleep(retry_after * (1 + random.random() * WIDGET_JITTER))


class Chat(Protocol):
    """A customer's side of one conversation over one transport."""

    async def turn(self, text: str, client_id: str, record: Record) -> Outcome: ...

    async def close(self) -> None: ...


class RestChat:
    """Messages as POST requests on the customers' shared keep-alive aiohttp session.

    Not httpx, which the rest of the benchmarks use: with 200 requests in flight its connection
    pool spent 35 ms of CPU a request on the two cores the server shares (a turn measured 7 s
    at p50 where aiohttp, on the same server, measured 0.8 s).
    """

    def __init__(self, session: aiohttp.ClientSession, chat: Conversation) -> None:
        self.session = session
        self.chat = chat
        self.path = f"/api/conversations/{chat.conversation_id}/messages"
        self.headers = {"Authorization": f"Bearer {chat.token}"}

    async def turn(self, text: str, client_id: str, record: Record) -> Outcome:
        body = {"text": text, "client_message_id": client_id}
        first_sent = time.perf_counter()
        while time.perf_counter() < record.window.gives_up:
            began = time.perf_counter()
            try:
                async with self.session.post(self.path, json=body, headers=self.headers) as sent:
                    status = sent.status
                    retry_after = sent.headers.get("Retry-After")
                    answer = await sent.read()
            except TimeoutError as error:
                record.error(ErrorKind.TIMEOUT, repr(error))
                continue
            except aiohttp.ClientError as error:
                record.error(ErrorKind.CONNECTION, repr(error))
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            ended = time.perf_counter()
            if status == 200:
                turn = json.loads(answer)
                record.answered(
                    self.chat,
                    Answered(client_id, turn["message"], turn["reply"], first_sent, began, ended),
                )
                return Outcome.ANSWERED if turn["reply"] is not None else Outcome.HANDED_OVER
            detail = answer[:200].decode("utf-8", "replace")
            if status == 503 and retry_after is not None:
                record.error(ErrorKind.BUSY, detail)
                await wait_as_the_widget(float(retry_after))
                continue
            kind = ErrorKind.SERVER_ERROR if status >= 500 else ErrorKind.REFUSED
            record.error(kind, f"{status} {detail}")
            return Outcome.FAILED
        record.given_up += 1
        return Outcome.FAILED

    async def close(self) -> None:
        return None  # the connection is the shared session's


@dataclass(frozen=True)
class SocketAnswer:
    """What the socket said to a message: its ``ack`` and ``reply`` messages (no reply when a
    person is waited for), or an ``error`` frame."""

    ack: dict[str, Any] | None = None
    reply: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


async def read_answer(socket: ClientConnection) -> SocketAnswer:
    """The frames that answer the message just sent: its ``ack``, then its ``reply``, or the
    ``status`` that a person is waited for (it may come before the ``ack``), or an ``error``."""
    ack: dict[str, Any] | None = None
    with_people = False
    while True:
        frame = json.loads(await socket.recv())
        kind = frame.get("type")
        if kind == "error":
            return SocketAnswer(error=frame)
        if kind == "ack":
            ack = frame["message"]
        elif kind == "reply" and ack is not None:
            return SocketAnswer(ack=ack, reply=frame["message"])
        elif kind == "status":
            with_people = frame.get("status") != "bot"
        if ack is not None and with_people:
            return SocketAnswer(ack=ack)


class SocketChat:
    """Messages as frames on the conversation's live socket, opened when first needed and
    opened again after a drop or a late answer, as the widget reconnects."""

    def __init__(self, ws_url: str, chat: Conversation, timeout: float) -> None:
        self.url = f"{ws_url}/api/conversations/{chat.conversation_id}/ws"
        self.chat = chat
        self.timeout = timeout
        self.protocols = [Subprotocol("cxagent"), Subprotocol(f"token.{chat.token}")]
        self.socket: ClientConnection | None = None

    async def turn(self, text: str, client_id: str, record: Record) -> Outcome:
        frame = json.dumps({"type": "message", "text": text, "client_message_id": client_id})
        first_sent = time.perf_counter()
        while time.perf_counter() < record.window.gives_up:
            try:
                socket = await self._open()
                began = time.perf_counter()
                await socket.send(frame)
                async with asyncio.timeout(self.timeout):
                    answer = await read_answer(socket)
            except TimeoutError:
                record.error(ErrorKind.TIMEOUT, f"no answer within {self.timeout} s")
                await self.close()
                continue
            except (WebSocketException, OSError) as error:
                record.error(ErrorKind.CONNECTION, repr(error))
                await self.close()
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            ended = time.perf_counter()
            if answer.ack is not None:
                record.answered(
                    self.chat,
                    Answered(client_id, answer.ack, answer.reply, first_sent, began, ended),
                )
                return Outcome.ANSWERED if answer.reply is not None else Outcome.HANDED_OVER
            refusal = answer.error or {}
            if "retry_after" in refusal:
                record.error(ErrorKind.BUSY, str(refusal.get("detail")))
                await wait_as_the_widget(float(refusal["retry_after"]))
                continue
            record.error(ErrorKind.WS_ERROR, str(refusal.get("detail")))
            return Outcome.FAILED
        record.given_up += 1
        return Outcome.FAILED

    async def _open(self) -> ClientConnection:
        if self.socket is None:
            self.socket = await connect(
                self.url, subprotocols=self.protocols, open_timeout=self.timeout, proxy=None
            )
        return self.socket

    async def close(self) -> None:
        if self.socket is not None:
            socket, self.socket = self.socket, None
            await socket.close()


async def start_conversation(session: aiohttp.ClientSession, tally: Tally) -> Conversation | None:
    """A new conversation, on the customers' aiohttp session: with httpx, 200 customers starting
    at once cost this process seconds of CPU (see RestChat), and the turns already sent waited
    for it to read their answers (REST turns sent in the first seconds measured 2-3 s). Sent
    again after a 503 or a dropped connection, as resend_load.request does."""
    path = "/api/conversations"
    while True:
        try:
            async with session.post(path, json={}) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                started = await response.json() if status == 201 else None
        except (aiohttp.ClientError, TimeoutError) as error:
            tally.server_errors.append(f"POST {path}: connection dropped ({error!r})")
            if len(tally.server_errors) > MAX_SERVER_ERRORS:
                raise
            await asyncio.sleep(RECONNECT_SECONDS)
            continue
        tally.statuses[status] += 1
        if status == 503:
            await wait_as_the_widget(float(retry_after or RETRY_503_SECONDS))
            continue
        if status >= 500:
            tally.server_errors.append(f"POST {path}: {status}")
        if started is None:
            return None
        return Conversation(started["conversation_id"], started["customer_token"], Kind.WRITES)


async def customer(
    number: int,
    transport: Transport,
    client: httpx.AsyncClient,
    session: aiohttp.ClientSession,
    timeout: float,
    record: Record,
    tally: Tally,
    messages: Sequence[str],
) -> None:
    """``messages`` in turn, back to back, until the window closes, in a new conversation
    whenever one goes to a person (the bot is silent there). Conversations start and REST turns
    go on ``session``; ``client`` names the server."""
    ws_url = str(client.base_url).rstrip("/").replace("http://", "ws://", 1)
    sent = 0
    while time.perf_counter() < record.window.closes:
        conversation = await start_conversation(session, tally)
        if conversation is None:
            return
        record.conversations.append(conversation)
        chat: Chat = (
            RestChat(session, conversation)
            if transport is Transport.REST
            else SocketChat(ws_url, conversation, timeout)
        )
        try:
            while time.perf_counter() < record.window.closes:
                text = messages[(number + sent) % len(messages)]
                outcome = await chat.turn(text, f"c{number}-m{sent}", record)
                sent += 1
                if outcome is Outcome.HANDED_OVER:
                    break
        finally:
            await chat.close()


def delivery_problems(
    conversation_id: str,
    messages: Sequence[dict[str, Any]],
    acknowledged: dict[str, set[int]],
    replies: set[int],
) -> list[tuple[Problem, str]]:
    """What went wrong storing one conversation: ``messages`` is its transcript (oldest first,
    as ``GET …/messages`` gives it), ``acknowledged`` each client_message_id the client saw
    acknowledged with the stored ids its acknowledgements named, ``replies`` the ids of the
    replies the client received."""
    return [
        (problem, f"{conversation_id} {detail}")
        for problem, detail in message_problems(messages, acknowledged)
        + reply_problems(messages, replies)
    ]


def message_problems(
    messages: Sequence[dict[str, Any]], acknowledged: dict[str, set[int]]
) -> list[tuple[Problem, str]]:
    """Customer messages stored twice, acknowledged as two, or acknowledged and not stored."""
    problems: list[tuple[Problem, str]] = []
    stored = Counter(
        m["client_message_id"]
        for m in messages
        if m["role"] == "customer" and m["client_message_id"] is not None
    )
    for client_id, times in sorted(stored.items()):
        if times > 1:
            problems.append((Problem.DUPLICATED, f"{client_id}: stored {times}x"))
    for client_id, message_ids in sorted(acknowledged.items()):
        if client_id not in stored:
            problems.append((Problem.LOST, client_id))
        elif len(message_ids) > 1:
            detail = f"{client_id}: acknowledged as {sorted(message_ids)}"
            problems.append((Problem.DUPLICATED, detail))
    return problems


def reply_problems(
    messages: Sequence[dict[str, Any]], replies: set[int]
) -> list[tuple[Problem, str]]:
    """Replies received and not stored, or stored twice."""
    bot_ids = {int(m["id"]) for m in messages if m["role"] == "bot"}
    problems = [(Problem.REPLY_LOST, f"reply {reply_id}") for reply_id in sorted(replies - bot_ids)]
    # A message and its reply are stored in one transaction, so a second bot message before the
    # next customer message is the same reply stored twice.
    since_customer: int | None = None
    for message in messages:
        if message["role"] == "customer":
            since_customer = 0
        elif message["role"] == "bot" and since_customer is not None:
            since_customer += 1
            if since_customer == 2:
                problems.append((Problem.REPLY_DUPLICATED, f"reply {message['id']}: a second one"))
    return problems


def latency_summary(values: Sequence[float]) -> dict[str, float] | None:
    """p50/p95/p99 of ``values`` (ms), or None without any."""
    if not values:
        return None
    return {q: round(percentile(values, p), 2) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}


async def run_scenario(
    url: str,
    transport: Transport,
    customers: int,
    warm_up: float,
    seconds: float,
    timeout: float,
    messages: Sequence[str],
    after_answer: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Every customer at once for the warm-up and the window, writing ``messages`` in turn,
    then every transcript read back: the scenario's counts. ``after_answer`` runs after each
    answer measured (Record)."""
    tally = Tally()  # the calls around the turns: starts and transcript reads
    limits = httpx.Limits(
        max_connections=2 * customers,
        max_keepalive_connections=2 * customers,
        keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS,
    )
    async with (
        httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client,
        aiohttp.ClientSession(
            url,
            connector=aiohttp.TCPConnector(
                limit=2 * customers, keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS
            ),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as session,
    ):
        record = Record(Window.starting_now(warm_up, seconds), after_answer=after_answer)
        await asyncio.gather(
            *(
                customer(n, transport, client, session, timeout, record, tally, messages)
                for n in range(customers)
            )
        )
        transcripts = await asyncio.gather(
            *(read_transcript(client, tally, chat) for chat in record.conversations)
        )
    problems: list[tuple[Problem, str]] = []
    for chat, transcript in zip(record.conversations, transcripts, strict=True):
        problems += delivery_problems(
            chat.conversation_id,
            transcript["messages"],
            record.acknowledged.get(chat.conversation_id, {}),
            record.replies.get(chat.conversation_id, set()),
        )
    found = Counter(problem for problem, _ in problems)
    return {
        "transport": str(transport),
        "customers": customers,
        "warm_up_s": warm_up,
        "seconds": seconds,
        "turns": len(record.turn_ms),
        "messages_per_s": round(len(record.turn_ms) / seconds, 1),
        "turn_ms": latency_summary(record.turn_ms),
        "message_ms": latency_summary(record.message_ms),
        "errors": {str(kind): record.errors[kind] for kind in ErrorKind},
        "given_up": record.given_up,
        "conversations": len(record.conversations),
        "acknowledged": sum(len(ids) for ids in record.acknowledged.values()),
        "replies": sum(len(ids) for ids in record.replies.values()),
        **{str(problem): found[problem] for problem in Problem},
        "stored_once": not problems,
        "other_calls": {
            "statuses": {str(code): n for code, n in sorted(tally.statuses.items())},
            "server_errors": len(tally.server_errors),
        },
        "examples": {
            "errors": dict(record.error_examples),
            "problems": [f"{problem}: {detail}" for problem, detail in problems[:EXAMPLES]],
            "other_calls": tally.server_errors[:EXAMPLES],
        },
    }


def scenario_failed(scenario: dict[str, Any]) -> bool:
    return bool(
        any(scenario["errors"][str(kind)] for kind in FAILING_ERRORS)
        or not scenario["stored_once"]
        or scenario["other_calls"]["server_errors"]
    )


@contextmanager
def scratch_postgres(admin_url: str, name: str) -> Iterator[str]:
    """A new database ``name`` on the PostgreSQL server of ``admin_url`` (a SQLAlchemy URL of
    a database its user may create databases from), dropped afterwards: its URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            # FORCE: a server that did not stop cleanly may still hold connections.
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


@contextmanager
def database_for(setup: ServerSetup, scratch: Path, postgres_url: str) -> Iterator[str]:
    """A fresh database for one server: its URL."""
    if setup.database is Database.SQLITE:
        yield f"sqlite:///{scratch}/bench.db"
        return
    with scratch_postgres(postgres_url, f"cxagent_load_{os.getpid()}_{setup.workers}w") as url:
        yield url


@contextmanager
def load_server(
    settings: Settings,
    setup: ServerSetup,
    scratch: Path,
    database_url: str,
    redis_url: str,
    log: TextIO,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """benchmarks.robustness.serving on ``database_url``, with ``setup.workers`` processes and
    Redis when it has several; its output goes to ``log``. Its URL and health report."""
    environment = {ENV_PREFIX + "DATABASE_URL": database_url}
    if setup.redis:
        environment[ENV_PREFIX + "REDIS_URL"] = redis_url
    arguments = ["--workers", str(setup.workers)] if setup.workers > 1 else []
    with serving(settings, scratch, log, environment, arguments) as served:
        yield served


def served_runtime(encoder_name: str) -> RuntimeName:
    """The runtime a server's health report names (finetune.onnx_runtime.OnnxBundle.name)."""
    from finetune.onnx_runtime import INT8_FILE

    if f"(ONNX {INT8_FILE})" in encoder_name:
        return RuntimeName.ONNX_INT8
    if "(ONNX " in encoder_name:
        return RuntimeName.ONNX_FP32
    return RuntimeName.PYTORCH


class ExportFailed(RuntimeError):
    """The bundle could not be exported for ONNX Runtime."""


def onnx_served(settings: Settings, scratch: Path) -> Settings:
    """The settings with a bundle the server will serve on ONNX Runtime: the configured one
    when its export is current, else a copy in ``scratch`` exported with the demo's test data.
    Unchanged without a bundle or with CXAGENT_INFERENCE_RUNTIME=pytorch."""
    from finetune.onnx_runtime import ONNX_DIR, load_exported

    bundle = settings.nlu_bundle
    if bundle is None or settings.inference_runtime == "pytorch":
        return settings
    if load_exported(bundle, settings.base_model) is not None:
        return settings
    copy = scratch / bundle.name
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns(ONNX_DIR))
    print(f"{PROGRAM}: exporting {bundle} for ONNX Runtime into {copy}", file=sys.stderr)
    nlu = DEMO_DIR / "nlu"
    command = [sys.executable, "-m", "bot.cli", "export-onnx", "--model", str(copy)]
    command += ["--intent-data", str(nlu / "intents_test.csv")]
    command += ["--sentiment-data", str(nlu / "sentiment_test.csv")]
    command += ["--knowledge-base", str(DEMO_DIR / "knowledge_base.yaml")]
    command += ["--retrieval-queries", str(DEMO_DIR / "heldout_questions.csv")]
    # The export's table goes where the progress goes: stdout is the report's.
    done = subprocess.run(command, stdout=sys.stderr, check=False)
    if done.returncode != 0:
        raise ExportFailed(f"`cxagent export-onnx` of {copy} failed (code {done.returncode})")
    return with_bundle(settings, str(copy))


def runtime_encoder(
    settings: Settings, runtime: RuntimeName, threads: int | None = None
) -> Encoder | str:
    """What runs ``runtime``'s forward pass for the served bundle, or why nothing does; an ONNX
    Runtime one on ``threads`` threads (its default: one for each core)."""
    from finetune.bundle_format import read_info
    from finetune.onnx_runtime import FP32_FILE, INT8_FILE, ONNX_DIR, OnnxBundle
    from finetune.serving import BundleEncoder

    bundle = settings.nlu_bundle
    if bundle is None:
        if runtime is RuntimeName.PYTORCH:
            from retrieval.encoder import SentenceEncoder

            return SentenceEncoder(settings.base_model)
        return "no NLU bundle: the base model runs on PyTorch only"
    if runtime is RuntimeName.PYTORCH:
        return BundleEncoder(bundle, settings.base_model)
    graph = bundle / ONNX_DIR / (FP32_FILE if runtime is RuntimeName.ONNX_FP32 else INT8_FILE)
    if not graph.exists():
        return f"{graph} does not exist (an int8 graph is kept only when it keeps accuracy)"
    return OnnxBundle(read_info(bundle), graph, bundle, settings.base_model, threads)


def lone_encoder(settings: Settings, setup: ServerSetup, runtime: RuntimeName) -> Encoder | None:
    """``runtime`` in this process as each worker of ``setup`` runs it (serve --workers shares
    the cores out), for the bare pass timed beside the lone customer (PassesBeside); None where
    this process cannot run it."""
    from bot.cli.serve import threads_per_worker

    threads = threads_per_worker(setup.workers) if setup.workers > 1 else None
    encoder = runtime_encoder(settings, runtime, threads)
    return None if isinstance(encoder, str) else encoder


def bare_forward_passes(
    settings: Settings, runtimes: Sequence[RuntimeName], count: int
) -> dict[str, dict[str, Any]]:
    """Each runtime's forward pass in this process, one held-out question at a time, warm, with
    the cores to itself (before any server starts)."""
    questions = [text for text, _ in read_heldout()]
    results: dict[str, dict[str, Any]] = {}
    for runtime in runtimes:
        encoder = runtime_encoder(settings, runtime)
        if isinstance(encoder, str):
            results[runtime] = {"skipped": encoder}
            continue
        times = bare_forward_ms(encoder, questions, count)
        results[runtime] = {"encoder": encoder.name, **(latency_summary(times) or {})}
        del encoder
        gc.collect()  # a model's memory is not held while the servers run
    return results


@dataclass(frozen=True)
class LoadOptions:
    customers: int
    seconds: float
    warm_up: float
    timeout: float
    transports: tuple[Transport, ...]
    postgres_url: str
    redis_url: str
    messages: tuple[str, ...] = QUESTIONS
    # The file ``messages`` were read from (--messages), for the report.
    messages_file: Path | None = None


@dataclass
class ServerRun:
    """What one server gave: its entry in the report, its scenarios, and the lone customer's
    when it was asked for one."""

    server: dict[str, Any]
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    # The lone customer over each transport, when asked for.
    alone: list[dict[str, Any]] | None = None


def log_tail(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]


def measure_server(
    settings: Settings, setup: ServerSetup, options: LoadOptions, alone: bool
) -> ServerRun:
    """A fresh server and database for ``setup``, a scenario per transport on it (first the lone
    customer's when ``alone``), or why the server failed."""
    import psycopg

    entry: dict[str, Any] = {
        "label": setup.label,
        "database": str(setup.database),
        "workers": setup.workers,
        "redis": setup.redis,
    }
    run = ServerRun(entry)
    with tempfile.TemporaryDirectory(prefix="cxagent-load-") as folder:
        scratch = Path(folder)
        log_path = scratch / "server.log"
        try:
            with (
                log_path.open("w") as log,
                database_for(setup, scratch, options.postgres_url) as database_url,
            ):
                server = load_server(settings, setup, scratch, database_url, options.redis_url, log)
                with server as (url, health):
                    entry["encoder"] = health.get("encoder")
                    entry["served_runtime"] = str(served_runtime(str(health.get("encoder"))))
                    entry["knowledge_base_entries"] = health.get("knowledge_base_entries")
                    measure_on(url, settings, setup, options, run, alone)
        except ServerFailed as error:
            entry.update(status="failed", reason=str(error), log_tail=log_tail(log_path))
            return run
        except psycopg.OperationalError as error:
            entry.update(status="failed", reason=f"PostgreSQL: {str(error).strip()}")
            return run
        except (httpx.TransportError, aiohttp.ClientError) as error:
            # resend_load.request and start_conversation give up on a server that drops every
            # call.
            entry.update(
                status="failed",
                reason=f"the server stopped answering: {error!r}",
                log_tail=log_tail(log_path),
            )
            return run
    entry["status"] = "ran"
    return run


def measure_on(
    url: str,
    settings: Settings,
    setup: ServerSetup,
    options: LoadOptions,
    run: ServerRun,
    alone: bool,
) -> None:
    """On a running server: the lone customer over each transport when ``alone`` (the widget
    writes over the socket; an integration may post), with the served runtime's bare pass timed
    between its turns, then a scenario per transport."""
    if alone:
        run.alone = []
        served = lone_encoder(settings, setup, RuntimeName(run.server["served_runtime"]))
        questions = [text for text, _ in read_heldout()]
        for transport in options.transports:
            print(f"{PROGRAM}: one customer alone, {transport}, {setup.label}", file=sys.stderr)
            beside = None if served is None else PassesBeside(served, questions)
            lone = measure_scenario(url, setup, transport, 1, options, beside)
            if beside is not None:
                lone["bare_forward_beside_ms"] = latency_summary(beside.times)
            run.alone.append(lone)
    for transport in options.transports:
        print(
            f"{PROGRAM}: {options.customers} customers, {transport}, {setup.label}", file=sys.stderr
        )
        run.scenarios.append(measure_scenario(url, setup, transport, options.customers, options))


# The lone customer's turns and the served runtime's bare pass are timed in alternation: a
# block of PASSES_EACH passes after the first answer measured and then after every
# PASSES_EVERY. The machine is shared and its speed drifts within seconds (the same pass took
# 3.7 to 7.4 ms p50 within two minutes), so a pass timed once before the servers started set
# the lone turn beside another machine: in four runs of the same code the turn over that pass
# moved between 1.5 and 3.1, over the pass timed between its turns between 1.6 and 2.1. Each
# block waits SETTLE_SECONDS first, so that the server has finished with the answer it sent.
PASSES_EVERY = 20
PASSES_EACH = 5
SETTLE_SECONDS = 0.02


class PassesBeside:
    """A Record's after_answer: the served runtime's bare forward pass in this process, in
    blocks between the lone customer's turns, while the server waits for the next message."""

    def __init__(self, encoder: Encoder, questions: Sequence[str]) -> None:
        self.encoder = encoder
        self.questions = questions
        self.answers = 0
        self.times: list[float] = []
        bare_forward_ms(encoder, questions, 0)  # warm

    def __call__(self) -> None:
        self.answers += 1
        if self.answers % PASSES_EVERY != 1:
            return
        time.sleep(SETTLE_SECONDS)
        first = len(self.times)
        block = [self.questions[(first + n) % len(self.questions)] for n in range(PASSES_EACH)]
        self.times += bare_forward_ms(self.encoder, block, PASSES_EACH, warm_up=0)


def measure_scenario(
    url: str,
    setup: ServerSetup,
    transport: Transport,
    customers: int,
    options: LoadOptions,
    after_answer: Callable[[], None] | None = None,
) -> dict[str, Any]:
    counts = asyncio.run(
        run_scenario(
            url,
            transport,
            customers,
            options.warm_up,
            options.seconds,
            options.timeout,
            options.messages,
            after_answer,
        )
    )
    return {
        "server": setup.label,
        "database": str(setup.database),
        "workers": setup.workers,
        "redis": setup.redis,
        **counts,
    }


def alone_report(alone: dict[str, Any], runtime: str, forward: dict[str, Any]) -> dict[str, Any]:
    """The lone customer's turns beside the bare forward pass of the runtime that served them:
    the one timed between its turns, or without it (a runtime this process could not load) the
    one timed before the servers started. Beside, on one worker, the turn over the pass timed
    back to back before the servers: a pass after a pause (as between turns) is slower than one
    straight after another, and inside the server a turn's own pass runs at the back-to-back
    speed, so both ratios are given. Several workers split the cores, so their pass has fewer
    threads than the one timed before."""
    turn_p50 = (alone["turn_ms"] or {}).get("p50")
    beside = alone.get("bare_forward_beside_ms") or {}
    before_p50 = forward.get(runtime, {}).get("p50")
    forward_p50 = beside.get("p50", before_p50)
    same_threads = bool(beside) and alone["workers"] == 1
    ratio_before = _ratio(turn_p50, before_p50) if same_threads else None
    return {
        **alone,
        "served_runtime": runtime,
        "bare_forward_p50_ms": forward_p50,
        "turn_p50_over_forward_p50": _ratio(turn_p50, forward_p50),
        "turn_p50_over_forward_before_p50": ratio_before,
    }


def _ratio(turn_p50: float | None, forward_p50: float | None) -> float | None:
    return None if turn_p50 is None or not forward_p50 else round(turn_p50 / forward_p50, 2)


def load_benchmark(
    settings: Settings,
    setups: Sequence[ServerSetup],
    runtimes: Sequence[RuntimeName],
    forward_passes: int,
    options: LoadOptions,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cxagent-load-bundle-") as scratch:
        served = onnx_served(settings, Path(scratch))
        forward = bare_forward_passes(served, runtimes, forward_passes)
        runs: list[ServerRun] = []
        for setup in setups:
            wants_alone = all(run.alone is None for run in runs)
            runs.append(measure_server(served, setup, options, alone=wants_alone))
    lone = next((run for run in runs if run.alone is not None), None)
    report: dict[str, Any] = {
        "benchmark": PROGRAM,
        "machine": machine_info(),
        "options": {
            "customers": options.customers,
            "seconds": options.seconds,
            "warm_up_s": options.warm_up,
            "timeout_s": options.timeout,
            "nlu_bundle": str(settings.nlu_bundle) if settings.nlu_bundle else None,
            # A copy of it, exported for ONNX Runtime for this run only.
            "exported_for_this_run": served.nlu_bundle != settings.nlu_bundle,
            "inference_runtime": settings.inference_runtime,
            "knowledge_base": str(settings.knowledge_base),
            "messages": str(options.messages_file or "six short questions"),
        },
        "bare_forward_ms": forward,
        "alone": []
        if lone is None or lone.alone is None
        else [alone_report(each, lone.server["served_runtime"], forward) for each in lone.alone],
        "servers": [run.server for run in runs],
        "scenarios": [entry for run in runs for entry in run.scenarios],
    }
    report["failed"] = failed(report)
    return report


def failed(report: dict[str, Any]) -> bool:
    measured = [*report["scenarios"], *report["alone"]]
    return any(server["status"] == "failed" for server in report["servers"]) or any(
        scenario_failed(entry) for entry in measured
    )


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def load_table(report: dict[str, Any]) -> str:
    """The report as a person reads it: a markdown table of the scenarios, then the servers that
    did not run, the lone customer beside the bare forward passes, and the machine."""
    lines = [
        "| scenario | msgs/s | p50 ms | p95 ms | p99 ms | errors | stored once |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for entry in report["scenarios"]:
        ms = entry["turn_ms"] or {}
        errors = [f"{kind} {count}" for kind, count in entry["errors"].items() if count]
        if entry["given_up"]:
            errors.append(f"given up {entry['given_up']}")
        found = [f"{problem} {entry[problem]}" for problem in Problem if entry[problem]]
        lines.append(
            f"| {entry['transport']} · {entry['server']} · {entry['customers']} customers "
            f"| {entry['messages_per_s']:g} | {_cell(ms.get('p50'))} | {_cell(ms.get('p95'))} "
            f"| {_cell(ms.get('p99'))} | {', '.join(errors) or 'none'} "
            f"| {'yes' if entry['stored_once'] else 'no: ' + ', '.join(found)} |"
        )
    lines.append("")
    for server in report["servers"]:
        if server["status"] != "ran":
            why = server["reason"]
            if server.get("log_tail"):
                why += f"; its log ends: {server['log_tail'][-1]}"
            lines.append(f"- {server['label']}: {server['status']} ({why})")
    for alone in report["alone"]:
        turn = alone["turn_ms"] or {}
        timed = "between its turns" if alone.get("bare_forward_beside_ms") else "up front"
        lines.append(
            f"- one customer alone ({alone['transport']}, {alone['server']}, "
            f"{alone['served_runtime']}): turn p50 {_cell(turn.get('p50'))} ms, "
            f"{_cell(alone['turn_p50_over_forward_p50'])}× the bare forward pass timed {timed} "
            f"(p50 {_cell(alone['bare_forward_p50_ms'])} ms)"
            + (
                f", {alone['turn_p50_over_forward_before_p50']}× the one timed back to back "
                "before the servers"
                if alone["turn_p50_over_forward_before_p50"] is not None
                else ""
            )
        )
    passes = [
        f"{runtime} {measured['p50']:g} ms"
        if "p50" in measured
        else f"{runtime} not measured ({measured['skipped']})"
        for runtime, measured in report["bare_forward_ms"].items()
    ]
    lines.append(f"- bare forward pass p50: {'; '.join(passes) or 'none asked'}")
    machine = report["machine"]
    lines.append(
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, torch {machine['torch']}"
    )
    return "\n".join(lines)


def choices(kind: type[StrEnum]) -> Any:
    """An argparse type: comma-separated names of ``kind`` (``rest,ws``), in the order given."""

    def parse(text: str) -> tuple[Any, ...]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        allowed = [str(member) for member in kind]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give one or more of {', '.join(allowed)}, separated by commas"
            )
        return tuple(kind(name) for name in dict.fromkeys(names))

    return parse


class MessagesError(ValueError):
    """A --messages file that cannot be read, or holds no message."""


def read_messages(path: Path) -> tuple[str, ...]:
    """The non-empty ``text`` cells of a CSV, in order."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(handle)
            if rows.fieldnames is None or "text" not in rows.fieldnames:
                raise MessagesError("no `text` column in its first line")
            texts = tuple(text for row in rows if (text := (row["text"] or "").strip()))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise MessagesError(str(error)) from error
    if not texts:
        raise MessagesError("no messages under its `text` column")
    return texts


def worker_counts(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated numbers of server processes (``1,2``)."""
    try:
        counts = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers from 1, as 1,2")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS, metavar="N")
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help=f"measured window of each scenario (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=DEFAULT_WARM_UP,
        metavar="SECONDS",
        help=f"load before the window, not measured (default {DEFAULT_WARM_UP:g})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"a turn not answered by then is sent again (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--transports", type=choices(Transport), default=tuple(Transport))
    parser.add_argument("--databases", type=choices(Database), default=tuple(Database))
    parser.add_argument("--workers", type=worker_counts, default=(1, 2))
    parser.add_argument(
        "--runtimes",
        type=choices(RuntimeName),
        default=tuple(RuntimeName),
        help="whose bare forward pass to measure (default all three)",
    )
    parser.add_argument(
        "--forward-passes",
        type=int,
        default=DEFAULT_FORWARD_PASSES,
        metavar="N",
        help=f"bare forward passes per runtime (default {DEFAULT_FORWARD_PASSES})",
    )
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        help="the NLU bundle to serve, or `none` for retrieval alone "
        "(default: CXAGENT_NLU_BUNDLE or the demo's)",
    )
    parser.add_argument(
        "--messages",
        type=Path,
        metavar="FILE",
        help="a CSV whose `text` column the customers write in turn, such as "
        "benchmarks/written_messages.csv (default: six short questions)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        metavar="URL",
        help="a database whose user may create the scratch databases (default: the tests')",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, metavar="URL")
    parser.add_argument(
        "--json-out", type=Path, metavar="FILE", help="write the JSON here, not to stdout"
    )
    args = parser.parse_args(argv)
    if args.customers < 1 or args.forward_passes < 1:
        parser.error(
            f"--customers {args.customers} --forward-passes {args.forward_passes}: "
            "both must be at least 1"
        )
    if args.seconds <= 0 or args.warm_up < 0 or args.timeout <= 0:
        parser.error(
            f"--seconds {args.seconds:g} --warm-up {args.warm_up:g} --timeout {args.timeout:g}: "
            "the window and the timeout must be more than 0, the warm-up not less"
        )
    if args.bundle is not None and args.bundle.lower() != "none" and not Path(args.bundle).is_dir():
        parser.error(f"--bundle {args.bundle}: no such folder")
    messages: tuple[str, ...] = QUESTIONS
    if args.messages is not None:
        try:
            messages = read_messages(args.messages)
        except MessagesError as error:
            parser.error(f"--messages {args.messages}: {error}")
    settings = settings_or_exit(PROGRAM)
    if args.bundle is not None:
        settings = with_bundle(settings, args.bundle)
    setups = [
        ServerSetup(database, workers) for database in args.databases for workers in args.workers
    ]
    options = LoadOptions(
        customers=args.customers,
        seconds=args.seconds,
        warm_up=args.warm_up,
        timeout=args.timeout,
        transports=args.transports,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
        messages=messages,
        messages_file=args.messages,
    )
    try:
        report = load_benchmark(settings, setups, args.runtimes, args.forward_passes, options)
    except ExportFailed as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    text = json.dumps(report, indent=2)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    print(load_table(report))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
