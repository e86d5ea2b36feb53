"""The model registry: versions with their record, promotion refused for a worse model (with the
metric table) unless forced and recorded, rollback; and a real server that swaps models while
customers chat, without a failed request."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.cli import main
from bot.models_registry import (
    ModelRegistry,
    PromotionRefused,
    RegistryError,
    Status,
)
from bot.storage.db import create_db_engine, create_session_factory, migrate
from bot.storage.models import Message
from tests.helpers.model_registry import fake_bundle, measured_registry
from tests.helpers.service import MINI_KB
from tests.helpers.training import INTENTS, OOS, SENTIMENT, write

# An intent only the newer bundles know: a message the older one cannot read as it.
OPENING_HOURS = [
    "what time do you open",
    "when are you open",
    "what are your opening times",
    "are you open on sunday",
    "when do you close today",
    "what are your hours",
    "is the shop open now",
    "opening times please",
]
NEW_INTENT_MESSAGE = "what time do you open"


# ---- the registry's bookkeeping, with measures given (no model) ---------------------------


@pytest.fixture
def bookkeeping(tmp_path: Path) -> Iterator[tuple[ModelRegistry, dict[str, dict[str, float]]]]:
    """A registry on SQLite whose measurer answers from a table (bundle folder name → measures),
    with a test set named."""
    engine = create_db_engine(f"sqlite:///{tmp_path}/cx.db")
    migrate(engine)
    measures: dict[str, dict[str, float]] = {}
    registry = measured_registry(tmp_path / "registry", create_session_factory(engine), measures)
    yield registry, measures
    engine.dispose()


def test_promotion_compares_refuses_forces_and_rolls_back(
    bookkeeping: tuple[ModelRegistry, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    registry, measures = bookkeeping
    measures.update(
        a={"intent_accuracy": 0.90, "oos_recall": 0.80},
        b={"intent_accuracy": 0.899, "oos_recall": 0.85},  # 0.1 points lost: within tolerance
        c={"intent_accuracy": 0.70, "oos_recall": 0.85},
    )
    a, b, c = (registry.register(fake_bundle(tmp_path / n, n), "eve").version for n in "abc")
    assert [r.status for r in registry.records()] == [Status.CANDIDATE] * 3
    with pytest.raises(RegistryError, match="registered already"):
        registry.register(tmp_path / "a", "eve")

    registry.promote(a, "eve")  # nothing served before: nothing to be worse than
    assert registry.serving_version() == a and registry.serving_bundle() == registry.bundle_dir(a)
    registry.promote(b, "eve")
    with pytest.raises(PromotionRefused) as refused:
        registry.promote(c, "eve")
    assert "intent_accuracy 0.7000 against 0.8990" in str(refused.value)
    assert "oos_recall" not in refused.value.comparison.worse
    table = refused.value.comparison.table()
    assert "| intent_accuracy | 0.7000 | 0.8990 | -19.90 | worse (over 0.3) |" in table
    assert "| oos_recall | 0.8500 | 0.8500 | +0.00 | ok |" in table
    assert registry.serving_version() == b

    registry.promote(c, "mallory", force=True)
    assert registry.serving_version() == c
    forced = registry.history()[-1]
    assert (forced.by, forced.forced, forced.previous) == ("mallory", True, b)
    assert "intent_accuracy" in forced.metrics["worse"]
    # The version's own record keeps the event and its table.
    record = json.loads((registry.bundle_dir(c) / "record.json").read_text())
    assert record["status"] == "serving" and record["history"][0]["forced"] is True
    assert record["evaluation"]["measures"] == measures["c"]

    assert registry.rollback("eve") == b
    assert registry.rollback("eve") == a
    statuses = {r.version: r.status for r in registry.records()}
    assert statuses == {a: Status.SERVING, b: Status.RETIRED, c: Status.RETIRED}
    assert registry.rollback("eve") is None  # back to CXAGENT_NLU_BUNDLE
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback("eve")
    with pytest.raises(RegistryError, match="no model version 'nope'"):
        registry.promote("nope", "eve")
    # An id that is not a version's never names a folder, however the folder looks.
    with pytest.raises(RegistryError, match="no model version"):
        registry.record(f"../versions/{a}")


def test_an_evaluation_is_kept_until_the_test_set_changes(
    bookkeeping: tuple[ModelRegistry, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    registry, measures = bookkeeping
    measures["a"] = {"intent_accuracy": 0.5}
    version = registry.register(fake_bundle(tmp_path / "a", "a"), "eve").version
    assert registry.evaluate(version) == {"intent_accuracy": 0.5}
    measures["a"] = {"intent_accuracy": 0.6}
    assert registry.evaluate(version) == {"intent_accuracy": 0.5}  # measured once
    other = write(tmp_path / "other.csv", [("refund", "refund"), ("moon", "oos")], "intent")
    registry.name_test_set({"intent_data": other}, "ops")
    assert registry.evaluate(version) == {"intent_accuracy": 0.6}


def test_a_test_set_that_does_not_read_is_refused(
    bookkeeping: tuple[ModelRegistry, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    registry, _ = bookkeeping
    with pytest.raises(RegistryError, match="no such file"):
        registry.name_test_set({"intent_data": tmp_path / "missing.csv"}, "ops")
    intents = write(tmp_path / "i.csv", INTENTS, "intent")
    with pytest.raises(Exception, match="go together"):
        registry.name_test_set({"intent_data": intents, "knowledge_base": intents}, "ops")


# ---- real tiny bundles -----------------------------------------------------------------------


def train(folder: Path, intents: list[tuple[str, str]], knowledge_base: Path) -> Path:
    folder.mkdir()
    arguments = [
        "train",
        "--intent-data", str(write(folder / "intents.csv", intents, "intent")),
        "--sentiment-data", str(write(folder / "sentiment.csv", SENTIMENT, "sentiment")),
        "--oos-data", str(write(folder / "oos.csv", [(t, "oos") for t in OOS], "intent")),
        "--knowledge-base", str(knowledge_base),
        "--output", str(folder / "bundle"),
        "--epochs", "1", "--batch-size", "8", "--lora-rank", "2", "--head-layers", "2",
    ]  # fmt: skip
    assert main(arguments, environ={}) == 0
    return folder / "bundle"


def pairs(labelled: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(text, label) for label, texts in labelled.items() for text in texts]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny bundles: ``old`` (three intents), ``new`` (a fourth: opening hours) and
    ``shuffled`` (the new one's texts with their intents shuffled), and the test set's files."""
    root = tmp_path_factory.mktemp("registry-bundles")
    kb = root / "kb.yaml"
    hours = {
        "id": "store.hours",
        "intent": "opening_hours",
        "questions": OPENING_HOURS[:4],
        "answer": "We are open from 9 to 5, Monday to Saturday.",
    }
    entries = {**MINI_KB, "entries": [*MINI_KB["entries"], hours]}
    kb.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    rows = pairs({**INTENTS, "opening_hours": OPENING_HOURS})
    labels = [label for _, label in rows]
    random.Random(7).shuffle(labels)
    found = {
        "old": train(root / "old", pairs(INTENTS), kb),
        "new": train(root / "new", rows, kb),
        "shuffled": train(
            root / "shuffled",
            [(text, label) for (text, _), label in zip(rows, labels, strict=True)],
            kb,
        ),
    }
    queries = [
        ("where has my parcel got to", "track_order.where"),
        ("can I pay by paypal", "payment.methods"),
    ]
    found["intent_data"] = write(
        root / "test-intents.csv", rows + [(t, "oos") for t in OOS], "intent"
    )
    found["sentiment_data"] = write(root / "test-sentiment.csv", SENTIMENT, "sentiment")
    found["knowledge_base"] = kb
    found["retrieval_queries"] = write(root / "test-queries.csv", queries, "entry_id")
    return found


def registry_environ(tmp_path: Path) -> dict[str, str]:
    return {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/cx.db",
        "CXAGENT_MODEL_REGISTRY": str(tmp_path / "registry"),
        "CXAGENT_NLU_BUNDLE": "none",
    }


def cli(
    arguments: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(arguments, environ=environ)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.real_model
def test_promote_refuses_a_bundle_trained_on_shuffled_labels_and_takes_a_better_one(
    bundles: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = registry_environ(tmp_path)
    test_set = [
        f"--{role.replace('_', '-')}={bundles[role]}"
        for role in ("intent_data", "sentiment_data", "knowledge_base", "retrieval_queries")
    ]
    assert cli(["models", "test-set", *test_set, "--by", "ops"], environ, capsys)[0] == 0
    versions = {}
    for name in ("old", "shuffled", "new"):
        code, out, _ = cli(
            ["models", "register", str(bundles[name]), "--by", "eve"], environ, capsys
        )
        assert code == 0
        versions[name] = out.strip()
    assert cli(["models", "promote", versions["old"], "--by", "eve"], environ, capsys)[0] == 0

    code, table, error = cli(["models", "promote", versions["shuffled"]], environ, capsys)
    assert code == 1, error
    assert "refused" in error and "intent_accuracy" in error, error
    assert f"| measure | {versions['shuffled']} | {versions['old']} |" in table
    assert "| intent_accuracy |" in table and "worse (over 0.3)" in table
    for measure in ("oos_recall", "sentiment_macro_recall", "retrieval_recall_at_1"):
        assert f"| {measure} |" in table

    code, table, error = cli(["models", "promote", versions["new"], "--by", "eve"], environ, capsys)
    assert code == 0, table + error
    assert "worse" not in table
    code, listing, _ = cli(["models", "list"], environ, capsys)
    rows = {line.split(" | ")[0].strip("| "): line for line in listing.splitlines()[2:]}
    assert "| serving |" in rows[versions["new"]] and "| retired |" in rows[versions["old"]]
    assert "| candidate |" in rows[versions["shuffled"]]

    code, _, error = cli(
        ["models", "promote", versions["shuffled"], "--force", "--by", "mallory"], environ, capsys
    )
    assert code == 0 and "forced past: intent_accuracy" in error
    code, history, _ = cli(["models", "history"], environ, capsys)
    assert f"promote forced by mallory: {versions['new']} -> {versions['shuffled']}" in history
    assert cli(["models", "rollback", "--by", "eve"], environ, capsys)[0] == 0
    code, listing, _ = cli(["models", "list"], environ, capsys)
    assert f"| {versions['new']} | serving |" in listing


# ---- a real server that follows the registry -------------------------------------------------

START_SECONDS = 300
SWAP_SECONDS = 120


@dataclass(frozen=True)
class Served:
    url: str
    registry: ModelRegistry
    versions: dict[str, str]  # "old" (serving at start) and "new", by their version ids
    workers: int
    log: Path

    def swapped_workers(self, version: str) -> int:
        """How many processes said they now serve ``version``."""
        lines = self.log.read_text().splitlines()
        return sum(1 for line in lines if "model registry: now serving" in line and version in line)


@pytest.fixture(
    params=[
        pytest.param(1, id="one-process-sqlite"),
        pytest.param(2, id="two-workers-postgres", marks=pytest.mark.postgres),
    ]
)
def served(
    request: pytest.FixtureRequest, bundles: dict[str, Path], tmp_path: Path
) -> Iterator[Served]:
    """`cxagent serve` serving the ``old`` bundle from the registry and checking it every
    0.2 s: one process on SQLite, or two workers on PostgreSQL and Redis."""
    from benchmarks.common import free_port
    from tests.conftest import _postgres_schema_url

    workers: int = request.param
    schema = _postgres_schema_url() if workers > 1 else None
    database = next(schema) if schema is not None else f"sqlite:///{tmp_path}/cx.db"
    engine = create_db_engine(database)
    migrate(engine)
    registry = ModelRegistry(tmp_path / "registry", create_session_factory(engine), None)
    registry.name_test_set({"intent_data": bundles["intent_data"]}, "ops")
    versions = {name: registry.register(bundles[name], "eve").version for name in ("old", "new")}
    registry.promote(versions["old"], "eve")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CXAGENT_")}
    env.update(
        CXAGENT_DATABASE_URL=database,
        CXAGENT_MODEL_REGISTRY=str(tmp_path / "registry"),
        CXAGENT_MODEL_CHECK_SECONDS="0.2",
        CXAGENT_NLU_BUNDLE="none",
        CXAGENT_KNOWLEDGE_BASE=str(bundles["knowledge_base"]),
        CXAGENT_ACTIONS="none",
        CXAGENT_INDEX_DIR=str(tmp_path / "index"),
        CXAGENT_RATE_LIMITS="false",
        CXAGENT_LOG_LEVEL="info",
        HF_HUB_OFFLINE="1",
    )
    if workers > 1:
        env["CXAGENT_REDIS_URL"] = request.getfixturevalue("redis_url")
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while log_path.read_text().count("Application startup complete") < workers:
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(0.5)
        yield Served(url, registry, versions, workers, log_path)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
        engine.dispose()
        if schema is not None:
            next(schema, None)  # drops the schema


def served_encoder(url: str) -> str | None:
    try:
        response = httpx.get(url + "/health", timeout=5)
    except httpx.HTTPError:
        return None
    return str(response.json()["encoder"]) if response.status_code == 200 else None


@dataclass
class Load:
    """Customers chatting at once, until ``stop``: every message stored (its id, and whether the
    server reported the new model before it was sent) and every failed request."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    swapped: threading.Event = field(default_factory=threading.Event)
    sent: list[tuple[int, bool]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def customer(self, number: int) -> None:
        """Asks the opening hours again and again, in a new conversation whenever one goes to a
        person (the bot is silent there); stops at the first failed request."""
        path, auth = "", {}
        with httpx.Client(base_url=self.url, timeout=60) as client:
            for turn in range(100_000):
                if self.stop.is_set():
                    return
                if not path:
                    started = client.post("/api/conversations", json={})
                    if started.status_code != 201:
                        self.failures.append(f"start: {started.status_code} {started.text[:300]}")
                        return
                    chat = started.json()
                    path = f"/api/conversations/{chat['conversation_id']}/messages"
                    auth = {"Authorization": f"Bearer {chat['customer_token']}"}
                after_swap = self.swapped.is_set()
                body = {"text": NEW_INTENT_MESSAGE, "client_message_id": f"{number}-{turn}"}
                try:
                    answer = client.post(path, json=body, headers=auth)
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    return
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code} {answer.text[:300]}")
                    return
                self.sent.append((answer.json()["message"]["id"], after_swap))
                if answer.json()["reply"] is None:
                    path = ""

    def answered(self, after_swap: bool) -> int:
        return sum(1 for _, after in self.sent if after is after_swap)

    def wait_for(self, after_swap: bool, count: int) -> None:
        deadline = time.monotonic() + SWAP_SECONDS
        while self.answered(after_swap) < count:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, "the customers were not answered"
            time.sleep(0.05)


@pytest.mark.real_model
@pytest.mark.timeout(900)
def test_a_promotion_reaches_every_worker_without_a_failed_request(
    served: Served, tmp_path: Path
) -> None:
    old, new = served.versions["old"], served.versions["new"]
    assert old in (served_encoder(served.url) or "")
    load = Load(served.url)
    customers = [threading.Thread(target=load.customer, args=(n,)) for n in range(4)]
    for thread in customers:
        thread.start()
    try:
        load.wait_for(after_swap=False, count=8)  # the load is on before the promotion
        served.registry.promote(new, "eve")
        deadline = time.monotonic() + SWAP_SECONDS
        while served.swapped_workers(new) < served.workers:
            assert time.monotonic() < deadline, "not every worker swapped to the new model"
            assert not load.failures, load.failures
            time.sleep(0.1)
        load.swapped.set()
        load.wait_for(after_swap=True, count=8)
        assert new in (served_encoder(served.url) or "")
    finally:
        load.stop.set()
        for thread in customers:
            thread.join(timeout=60)
    assert not load.failures, load.failures

    with served.registry.sessions() as session:
        intents = dict(session.execute(select(Message.id, Message.intent)).all())
    # The first messages were read before the promotion, by the old model, which cannot read
    # opening hours; every message sent once every worker had swapped, by the new one.
    assert "opening_hours" not in [intents[i] for i, _ in load.sent[:8]]
    after = [intents[i] for i, after in load.sent if after]
    assert len(after) >= 8 and set(after) == {"opening_hours"}, after
