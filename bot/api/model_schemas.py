"""Shapes of the model registry's routes (bot.models_registry): the versions, a promotion's
metric table, the serving log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ModelVersionOut(BaseModel):
    version: str
    status: str = Field(description="candidate (never served), serving, or retired")
    registered_at: str
    registered_by: str
    base_model: str
    intent_labels: list[str]
    training: dict[str, Any] = Field(description="the training arguments the bundle records")
    data: dict[str, Any] = Field(description="its training data's hashes and row counts")
    measures: dict[str, float] | None = Field(
        description="its evaluation on the registry's current test set; null if not measured "
        "on it (`cxagent models evaluate`)"
    )
    corrections_since: int = Field(
        description="messages staff corrected the intent of since the version was registered"
    )


class ServingChangeOut(BaseModel):
    action: str = Field(description="promote or rollback")
    version: str | None = Field(description="served from then on; null: CXAGENT_NLU_BUNDLE")
    previous: str | None
    by: str
    forced: bool
    at: datetime


class ModelsOut(BaseModel):
    serving: str | None = Field(description="the served version; null: CXAGENT_NLU_BUNDLE")
    configured_bundle: str | None = Field(description="CXAGENT_NLU_BUNDLE's folder name")
    test_set: bool = Field(description="whether the registry has a test set")
    versions: list[ModelVersionOut]
    history: list[ServingChangeOut]


class MeasureRow(BaseModel):
    measure: str
    candidate: float | None
    serving: float | None
    change: float | None = Field(description="in points (hundredths)")
    worse: bool = Field(description="the candidate loses more than the tolerance on it")


class ComparisonOut(BaseModel):
    candidate: str
    serving: str
    tolerance_points: float
    worse: str = Field(description="the measures the candidate loses on, '' if none")
    rows: list[MeasureRow]


class PromoteIn(BaseModel):
    force: bool = Field(False, description="promote a worse version anyway (recorded)")


class RetrainingOut(BaseModel):
    """A retraining job (bot.retraining): its progress while it runs, then the candidate it
    registered or the error it ended with."""

    id: str
    status: str = Field(description="RQ's: queued, started, finished, failed, stopped, canceled")
    stage: str = Field(description="what the job is doing, in words")
    percent: float = Field(description="of the whole job, 0 to 100")
    requested_by: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = Field(description="why it failed, in one line; null otherwise")
    version: str | None = Field(description="the candidate version it registered")
    measures: dict[str, float] | None = Field(description="the candidate's on the test set")
    corrections: int | None = Field(description="corrected intents it trained on beside the data")
    onnx_precision: str | None = Field(
        None,
        description="what the candidate serves on once promoted: its ONNX Runtime export, `int8` "
        "where int8 kept accuracy on the test set, else `fp32`",
    )
