"""Retraining jobs (bot.retraining): queued in the real Redis, run by a real RQ worker with a tiny
training on the configured data plus the staff's corrections, ending as a candidate exported
for ONNX Runtime and measured on the registry's test set; a failure ends the job with its
error; one job at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.config import Settings
from bot.errors import Rejected
from bot.models_registry import ModelRegistry, Status
from bot.retraining import RetrainingQueue, RetrainingRunning, Stage, run_retraining, work
from bot.storage.db import create_db_engine, create_session_factory, migrate
from bot.storage.models import Conversation, Customer, Message
from finetune.onnx_runtime import INT8_FILE, load_exported
from tests.helpers.training import INTENTS, OOS, SENTIMENT, write

# Few steps on little data: a real training in seconds.
TINY = {"epochs": 1, "batch_size": 8, "lora_rank": 2, "head_layers": 2}
CORRECTED = ("what time do you open", "opening_hours")


def queue_url(redis_url: str) -> str:
    """A database of the test Redis for these tests alone, emptied before each."""
    url = redis_url.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def retraining(tmp_path: Path, redis_url: str) -> Iterator[tuple[Settings, ModelRegistry]]:
    """Settings of a worker on SQLite with tiny training files, a registry with a test set, and
    one message whose intent staff corrected to an intent the data lacks."""
    rows = [(text, label) for label, texts in INTENTS.items() for text in texts]
    rows += [(text, "oos") for text in OOS]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cx.db",
        redis_url=queue_url(redis_url),
        model_registry=tmp_path / "registry",
        nlu_bundle=None,
        training_intent_data=write(tmp_path / "intents.csv", rows, "intent"),
        training_sentiment_data=write(tmp_path / "sentiment.csv", SENTIMENT, "sentiment"),
    )
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    sessions = create_session_factory(engine)
    add_correction(sessions, *CORRECTED)
    registry = ModelRegistry(settings.model_registry, sessions)
    yield settings, registry
    engine.dispose()


def add_correction(sessions: sessionmaker[Session], text: str, intent: str) -> None:
    with sessions.begin() as session:
        customer = Customer()
        session.add(customer)
        session.flush()
        session.add(Conversation(id="c1", customer_id=customer.id, token_hash="0" * 64))
        session.add(
            Message(
                conversation_id="c1",
                customer_id=customer.id,
                role="customer",
                text=text,
                intent="track_order",
                intent_confidence=0.4,
                corrected_intent=intent,
            )
        )


def test_a_retraining_runs_in_the_worker_and_ends_as_a_measured_candidate(
    retraining: tuple[Settings, ModelRegistry], tmp_path: Path
) -> None:
    settings, registry = retraining
    test_rows = [("where is my parcel", "track_order"), ("refund please", "refund")]
    test_rows += [("when do you open", "opening_hours"), ("tell me a joke", "oos")]
    registry.name_test_set(
        {"intent_data": write(tmp_path / "test.csv", test_rows, "intent")}, "ops"
    )
    queue = RetrainingQueue.of(settings)

    started = queue.start("ana", TINY)
    assert (started.status, started.stage, started.percent) == ("queued", Stage.QUEUED, 0.0)
    with pytest.raises(RetrainingRunning, match="queued already"):
        queue.start("bob", TINY)

    work(settings, burst=True, in_process=True)

    [job] = queue.latest()
    assert job.id == started.id and job.error is None, job.error
    assert (job.status, job.stage, job.percent) == ("finished", Stage.DONE, 100.0)
    assert job.corrections == 1 and job.version is not None
    [record] = registry.records()
    assert (record.version, record.status) == (job.version, Status.CANDIDATE)
    assert record.registered_by == "ana (console retraining)"
    # The correction taught it an intent the configured data does not have.
    assert "opening_hours" in record.intent_labels
    assert record.data["intent_rows"] == 8 * 3 + len(OOS) + 1
    assert record.training["epochs"] == 1
    assert record.evaluation is not None and record.evaluation["measures"] == job.measures
    assert job.measures is not None and 0.0 <= job.measures["intent_accuracy"] <= 1.0
    # Exported for ONNX Runtime with the bundle: promoted, it is served by the export.
    exported = load_exported(registry.bundle_dir(record.version))
    assert exported is not None
    assert job.onnx_precision == ("int8" if exported.graph.name == INT8_FILE else "fp32")

    # The queue is free again.
    assert queue.start("ana", TINY).status == "queued"


def test_a_failed_retraining_ends_with_its_error(
    retraining: tuple[Settings, ModelRegistry],
) -> None:
    settings, _ = retraining  # the registry has no test set to measure a candidate on
    queue = RetrainingQueue.of(settings)
    queue.start("ana", TINY)
    work(settings, burst=True, in_process=True)
    [job] = queue.latest()
    assert job.status == "failed" and job.version is None
    assert job.error is not None and "has no test set" in job.error
    assert job.stage == Stage.PREPARING


def test_a_job_a_worker_is_taking_stays_listed_and_blocks_a_second_one(
    retraining: tuple[Settings, ModelRegistry],
) -> None:
    """A worker takes a job off the queue before it marks it started (RQ keeps it on a list of
    its own meanwhile): the page must still see it, and no second retraining may start."""
    settings, _ = retraining
    queue = RetrainingQueue.of(settings)
    started = queue.start("ana", TINY)
    taken = Queue.dequeue_any([queue.queue], timeout=None, connection=queue.connection)
    assert taken is not None and taken[0].id == started.id  # RQ's own dequeue step
    [job] = queue.latest()
    assert (job.id, job.status) == (started.id, "queued")
    with pytest.raises(RetrainingRunning, match="queued already"):
        queue.start("bob", TINY)


def test_bad_training_settings_are_refused_before_queueing(
    retraining: tuple[Settings, ModelRegistry],
) -> None:
    settings, _ = retraining
    queue = RetrainingQueue.of(settings)
    with pytest.raises(Rejected, match="epochs=-1"):
        queue.start("ana", {"epochs": -1})
    assert queue.latest() == []


def test_the_worker_command_needs_a_reachable_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--burst"], environ={}) == 2
    assert "set CXAGENT_REDIS_URL" in capsys.readouterr().err
    nobody = {"CXAGENT_REDIS_URL": "redis://127.0.0.1:1/0"}  # no server listens on port 1
    assert main(["worker", "--burst"], environ=nobody) == 2
    assert "cannot reach Redis at CXAGENT_REDIS_URL" in capsys.readouterr().err


def test_the_progress_goes_through_the_stages_and_the_training_steps(
    retraining: tuple[Settings, ModelRegistry], tmp_path: Path
) -> None:
    settings, registry = retraining
    rows = [("where is my parcel", "track_order"), ("tell me a joke", "oos")]
    registry.name_test_set({"intent_data": write(tmp_path / "test.csv", rows, "intent")}, "ops")
    reported: list[tuple[Stage, float]] = []
    outcome = run_retraining(settings, "ana", TINY, lambda *report: reported.append(report))
    stages = [stage for stage, _ in reported]
    assert sorted(set(stages), key=stages.index) == [
        Stage.PREPARING,
        Stage.TRAINING,
        Stage.EXPORTING,
        Stage.REGISTERING,
        Stage.EVALUATING,
        Stage.DONE,
    ]
    percents = [percent for _, percent in reported]
    assert percents == sorted(percents) and percents[-1] == 100.0
    # A report after each training step, the last at the end of training's share.
    training = [percent for stage, percent in reported if stage is Stage.TRAINING]
    assert len(training) >= 3 and training[-1] == 80.0
    assert outcome["version"] == registry.records()[0].version
