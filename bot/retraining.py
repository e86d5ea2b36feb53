"""Retraining from the console: a job on an RQ queue in Redis, run by `cxagent worker` in a
process of its own (on its own machine if wanted), never in the service that serves customers.

A job trains on the company's training data (CXAGENT_TRAINING_INTENT_DATA and
CXAGENT_TRAINING_SENTIMENT_DATA) plus every intent staff corrected, fits the encoder to the
knowledge base the database holds, registers the bundle as a candidate version in the model
registry and measures it on the registry's test set. An admin then compares and promotes it on
the Models page, as any other candidate.

The job reports its stage and percent in its RQ meta as it goes (``stage``, ``percent``), and
the version it produced (``version``, ``measures``) or its error (``error``) at the end: the
console reads them back through RetrainingQueue.latest().
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from redis import Redis, RedisError
from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.errors import Conflict, Rejected, Unavailable
from bot.storage.db import migrated_sessions

logger = logging.getLogger(__name__)

QUEUE_NAME = "cxagent-retraining"
# Every job started here, by when: RQ's own lists do not hold a job while a worker takes it
# (between its queue and its started registry), and a job missing from the list for that
# moment made the page stop following it and let a second retraining start.
JOBS_KEY = f"{QUEUE_NAME}:jobs"
# A full training on a CPU takes tens of minutes; beyond this the worker stops it as failed.
JOB_TIMEOUT_SECONDS = 6 * 3600
# How long a finished or failed job stays listed on the Models page.
KEPT_SECONDS = 30 * 24 * 3600
# Jobs the Models page lists.
LATEST = 10
# RQ's statuses of a job that has not ended yet (the console's UNFINISHED too).
UNFINISHED = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
NO_REDIS = (
    "retraining from the console needs a job queue: set CXAGENT_REDIS_URL and run `cxagent "
    "worker`; without Redis, train with `cxagent train` and `cxagent models register`"
)


class Stage(StrEnum):
    QUEUED = "queued"
    PREPARING = "reading the data and the corrections"
    TRAINING = "training"
    EXPORTING = "exporting for ONNX Runtime"
    REGISTERING = "registering the candidate"
    EVALUATING = "measuring on the test set"
    DONE = "done"


# Where each stage starts, in percent of the whole job; training takes the bulk.
STAGE_START = {
    Stage.QUEUED: 0.0,
    Stage.PREPARING: 1.0,
    Stage.TRAINING: 5.0,
    Stage.EXPORTING: 80.0,
    Stage.REGISTERING: 88.0,
    Stage.EVALUATING: 90.0,
    Stage.DONE: 100.0,
}

# Reports progress: (stage, percent of the whole job).
Progress = Callable[[Stage, float], None]


class RetrainingRunning(Conflict):
    pass


@dataclass(frozen=True)
class RetrainingJob:
    """One job as the console shows it. ``status`` is RQ's (queued, started, finished,
    failed, …)."""

    id: str
    status: str
    stage: str
    percent: float
    requested_by: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    version: str | None
    measures: dict[str, float] | None
    corrections: int | None
    onnx_precision: str | None


class RetrainingQueue:
    """The queue on the service's Redis: start a retraining, list the latest."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self.queue = Queue(QUEUE_NAME, connection=connection)

    @classmethod
    def of(cls, settings: Settings) -> RetrainingQueue:
        if settings.redis_url is None:
            raise Unavailable(NO_REDIS)
        return cls(Redis.from_url(settings.redis_url, socket_connect_timeout=2))

    def start(self, requested_by: str, training: dict[str, Any] | None = None) -> RetrainingJob:
        """Queue a retraining; ``training`` overrides TrainingConfig's defaults (checked here, so
        that a wrong value is refused now rather than failing in the worker). Conflict if one is
        queued or running already."""
        from finetune.config import TrainingConfig

        overrides = dict(training or {})
        try:
            TrainingConfig(**overrides)
        except (TypeError, ValueError) as error:
            raise Rejected(f"training settings refused: {error}") from None
        # Held across the check and the enqueue: two admins clicking at once start one job.
        with self._redis_errors(), self.connection.lock(f"{QUEUE_NAME}:starting", timeout=30):
            unfinished = self._unfinished()
            if unfinished:
                raise RetrainingRunning(
                    f"a retraining is {unfinished[0].get_status().value} already "
                    f"(job {unfinished[0].id}); wait for it to end"
                )
            job = self.queue.enqueue(
                retrain,
                requested_by,
                overrides,
                job_timeout=JOB_TIMEOUT_SECONDS,
                result_ttl=KEPT_SECONDS,
                failure_ttl=KEPT_SECONDS,
                meta={"stage": Stage.QUEUED.value, "percent": 0.0, "requested_by": requested_by},
            )
            self.connection.zadd(JOBS_KEY, {job.id: time.time()})
            self.connection.zremrangebyrank(JOBS_KEY, 0, -LATEST - 1)  # the newest LATEST stay
            return _view(job)

    def close(self) -> None:
        self.connection.close()

    def latest(self, limit: int = LATEST) -> list[RetrainingJob]:
        """The latest jobs, newest first."""
        with self._redis_errors():
            return [_view(job) for job in self._jobs(limit)]

    def _unfinished(self) -> list[Job]:
        return [job for job in self._jobs(LATEST) if job.get_status(refresh=False) in UNFINISHED]

    def _jobs(self, limit: int) -> list[Job]:
        """The newest ``limit`` jobs still kept; those whose record expired leave the index."""
        newest = cast(list[bytes], self.connection.zrevrange(JOBS_KEY, 0, limit - 1))
        ids = [job_id.decode() for job_id in newest]
        jobs = Job.fetch_many(ids, self.connection)
        expired = [job_id for job_id, job in zip(ids, jobs, strict=True) if job is None]
        if expired:
            self.connection.zrem(JOBS_KEY, *expired)
        return [job for job in jobs if job is not None]

    @contextmanager
    def _redis_errors(self) -> Iterator[None]:
        try:
            yield
        except RedisError as error:
            raise Unavailable(f"the job queue's Redis is unavailable: {error}") from None


def _view(job: Job) -> RetrainingJob:
    meta = job.meta
    status = job.get_status(refresh=False)
    error = meta.get("error")
    if error is None and status == JobStatus.FAILED:
        # Killed from outside (timeout, a worker that died): RQ's own record says why.
        result = job.latest_result()
        lines = (result.exc_string or "").strip().splitlines() if result is not None else []
        error = lines[-1] if lines else "the job failed"
    return RetrainingJob(
        id=job.id,
        status=status.value if status is not None else "unknown",
        stage=str(meta.get("stage", Stage.QUEUED)),
        percent=float(meta.get("percent", 0.0)),
        requested_by=str(meta.get("requested_by", "")),
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        error=error,
        version=meta.get("version"),
        measures=meta.get("measures"),
        corrections=meta.get("corrections"),
        onnx_precision=meta.get("onnx_precision"),
    )


# ---- the worker's side ---------------------------------------------------------------------

# The settings of the worker process, given by `work`: a job carries only what the admin asked
# (who, training overrides), never the worker's database URL or secrets.
_worker_settings: Settings | None = None


def work(settings: Settings, burst: bool = False, in_process: bool = False) -> None:
    """Run an RQ worker on the retraining queue until stopped (``burst``: until it is empty).
    ``in_process`` runs jobs in this process (RQ's SimpleWorker) instead of a forked child."""
    global _worker_settings
    if settings.redis_url is None:
        raise Unavailable(
            "`cxagent worker` runs retraining jobs from a queue in Redis: set CXAGENT_REDIS_URL "
            "(the same as `cxagent serve`'s)"
        )
    _worker_settings = settings
    connection = Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        connection.ping()
    except RedisError as error:
        raise Unavailable(f"cannot reach Redis at CXAGENT_REDIS_URL: {error}") from None
    kind = SimpleWorker if in_process else Worker
    worker = kind([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    worker.work(burst=burst, logging_level=settings.log_level.upper())


def retrain(requested_by: str, training: dict[str, Any]) -> dict[str, Any]:
    """The job: what `cxagent worker` runs for each retraining the console starts."""
    if _worker_settings is None:
        raise RuntimeError("retrain runs in `cxagent worker` (bot.retraining.work)")
    job = get_current_job()

    def report(stage: Stage, percent: float) -> None:
        if job is None:
            return
        job.meta.update(stage=stage.value, percent=round(percent, 1))
        _save_meta(job)

    try:
        outcome = run_retraining(_worker_settings, requested_by, training, report)
    except Exception as error:
        # The page shows this line; the traceback stays in the worker's log and RQ's record.
        if job is not None:
            job.meta["error"] = f"{type(error).__name__}: {error}"
            _save_meta(job)
        raise
    if job is not None:
        job.meta.update(outcome)
        _save_meta(job)
    return outcome


def _save_meta(job: Job) -> None:
    job.save_meta()  # type: ignore[no-untyped-call]  # RQ leaves this one unannotated


def run_retraining(
    settings: Settings, requested_by: str, training: dict[str, Any], report: Progress
) -> dict[str, Any]:
    """Train on the configured data plus the staff's corrections, export it for ONNX Runtime,
    register the bundle as a candidate and measure it; returns {"version", "measures",
    "corrections", "onnx_precision"}."""
    from finetune.config import TrainingConfig
    from finetune.onnx_export import export_onnx
    from finetune.trainer import train

    report(Stage.PREPARING, STAGE_START[Stage.PREPARING])
    with migrated_sessions(settings.database_url, settings.auto_migrate) as sessions:
        from bot.models_registry import ModelRegistry

        registry = ModelRegistry(settings.model_registry, sessions, settings.nlu_bundle)
        registry.test_set_hash()  # no test set: refused before an hour of training
        config = TrainingConfig(**{"base_model": settings.base_model, **training})
        with tempfile.TemporaryDirectory(prefix="cxagent-retrain-") as scratch:
            data = _training_data(settings, sessions, Path(scratch))
            training_share = STAGE_START[Stage.EXPORTING] - STAGE_START[Stage.TRAINING]

            def steps(done: int, total: int) -> None:
                report(Stage.TRAINING, STAGE_START[Stage.TRAINING] + training_share * done / total)

            report(Stage.TRAINING, STAGE_START[Stage.TRAINING])
            bundle, adapter_model = train(
                config,
                data.intents,
                data.sentiments,
                knowledge_base=data.knowledge_base,
                show_progress=False,
                progress=steps,
            )
            folder = Path(scratch) / "bundle"
            bundle.save(folder, adapter_model)
            # Exported as `cxagent export-onnx` would, measured on the registry's test set (the
            # yardstick of promotion too) and copied with the bundle: promoted, a retrained
            # version serves on ONNX Runtime as the bundle it replaces did, not three times
            # slower on PyTorch.
            report(Stage.EXPORTING, STAGE_START[Stage.EXPORTING])
            precision = export_onnx(folder, registry.test_data(), settings.base_model).precision
            report(Stage.REGISTERING, STAGE_START[Stage.REGISTERING])
            record = registry.register(folder, f"{requested_by} (console retraining)")
        report(Stage.EVALUATING, STAGE_START[Stage.EVALUATING])
        measures = registry.evaluate(record.version)
    report(Stage.DONE, STAGE_START[Stage.DONE])
    logger.info(
        "retraining registered %s (ONNX Runtime, %s): %s", record.version, precision, measures
    )
    return {
        "version": record.version,
        "measures": measures,
        "corrections": data.corrections,
        "onnx_precision": precision,
    }


@dataclass(frozen=True)
class _TrainingData:
    intents: Any  # finetune.data.LabelledTexts
    sentiments: Any
    knowledge_base: Any  # retrieval.knowledge_base.KnowledgeBase | None
    corrections: int


def _training_data(
    settings: Settings, sessions: sessionmaker[Session], scratch: Path
) -> _TrainingData:
    """The configured files, the corrected intents (as `cxagent export-training-data
    --corrected-only` writes them) and the knowledge base the database serves."""
    from bot.analytics.training_export import export_training_data
    from bot.support.knowledge import KnowledgeService, knowledge_base_of
    from finetune.data import concatenated, load_labelled
    from finetune.reading import SENTIMENT_LABELS

    intents = load_labelled(settings.training_intent_data, "intent")
    corrections = scratch / "corrections.csv"
    summary = export_training_data(
        sessions, corrections, settings.intent_threshold, include_low_confidence=False
    )
    if summary.corrected:
        intents = concatenated([intents, load_labelled(corrections, "intent")])
    sentiments = (
        load_labelled(settings.training_sentiment_data, "sentiment", frozenset(SENTIMENT_LABELS))
        if settings.training_sentiment_data is not None
        else None
    )
    snapshot = KnowledgeService(sessions).snapshot()
    knowledge_base = knowledge_base_of(snapshot) if snapshot.entries else None
    return _TrainingData(intents, sentiments, knowledge_base, summary.corrected)
