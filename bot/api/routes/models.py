"""The model registry for admins (the console's Models page): the versions and their measures,
a candidate's metric table against what serves, promotion and rollback, and retraining jobs
(bot.retraining: queued in Redis, run by `cxagent worker`). The service never
loads a model to measure it here: a version is measured by `cxagent models evaluate`, and an
unmeasured one is a 409 that says so."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from bot.api.deps import RuntimeDep, StaffDep, get_staff_member
from bot.api.model_schemas import (
    ComparisonOut,
    MeasureRow,
    ModelsOut,
    ModelVersionOut,
    PromoteIn,
    RetrainingOut,
    ServingChangeOut,
)
from bot.api.openapi import errors
from bot.errors import Forbidden
from bot.models_registry import VERSION_ID, Comparison, ModelRegistry, RegistryError
from bot.retraining import RetrainingQueue
from bot.support.accounts import Role, StaffMember
from finetune.accuracy_gate import TOLERANCE_POINTS

router = APIRouter(
    prefix="/api/staff/models",
    tags=["models"],
    dependencies=[Depends(get_staff_member)],
    responses=errors(401, 403, 503),
)


async def get_registry(runtime: RuntimeDep) -> ModelRegistry:
    settings = runtime.settings
    return ModelRegistry(settings.model_registry, runtime.sessions, settings.nlu_bundle)


async def get_admin(member: StaffDep) -> StaffMember:
    if member.role is not Role.ADMIN:
        raise Forbidden("only an admin can see and change the served model")
    return member


def get_retraining_queue(runtime: RuntimeDep) -> Iterator[RetrainingQueue]:
    """The retraining queue on the service's Redis (503 without it), closed after the request."""
    queue = RetrainingQueue.of(runtime.settings)
    try:
        yield queue
    finally:
        queue.close()


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
RetrainingQueueDep = Annotated[RetrainingQueue, Depends(get_retraining_queue)]
AdminDep = Annotated[StaffMember, Depends(get_admin)]
VersionPath = Annotated[
    str,
    Path(
        pattern=VERSION_ID.pattern,
        description="a version id: YYYYMMDD-HHMMSS-<10 hex digits>",
        examples=["20261201-001826-69f3ebee28"],
    ),
]


@router.get("", response_model=ModelsOut)
def list_models(admin: AdminDep, registry: RegistryDep) -> ModelsOut:
    """Every version (oldest first) with its status and measures, and the serving log."""
    try:
        test_set: str | None = registry.test_set_hash()
    except RegistryError:
        test_set = None
    versions = []
    for record in registry.records():
        evaluation = record.evaluation or {}
        current = test_set is not None and evaluation.get("test_set") == test_set
        versions.append(
            ModelVersionOut(
                version=record.version,
                status=record.status,
                registered_at=record.registered_at,
                registered_by=record.registered_by,
                base_model=record.base_model,
                intent_labels=record.intent_labels,
                training=record.training,
                data=record.data,
                measures=evaluation["measures"] if current else None,
                corrections_since=registry.corrections_since(record.version),
            )
        )
    history = [
        ServingChangeOut(
            action=change.action,
            version=change.version,
            previous=change.previous,
            by=change.by,
            forced=change.forced,
            at=change.at,
        )
        for change in registry.history()
    ]
    configured = registry.configured_bundle
    return ModelsOut(
        serving=history[-1].version if history else None,
        configured_bundle=configured.name if configured is not None else None,
        test_set=test_set is not None,
        versions=versions,
        history=history,
    )


@router.get("/retrainings", response_model=list[RetrainingOut])
def list_retrainings(admin: AdminDep, queue: RetrainingQueueDep) -> list[RetrainingOut]:
    """The latest retraining jobs, newest first, with their progress; 503 without Redis."""
    return [RetrainingOut(**asdict(job)) for job in queue.latest()]


@router.post("/retrainings", response_model=RetrainingOut, status_code=202, responses=errors(409))
def start_retraining(admin: AdminDep, queue: RetrainingQueueDep) -> RetrainingOut:
    """Queue a retraining on the configured training data plus the staff's corrections, which
    `cxagent worker` runs and registers as a candidate; 409 if one is queued or running, 503
    without Redis."""
    return RetrainingOut(**asdict(queue.start(admin.username)))


@router.get("/{version}/comparison", response_model=ComparisonOut, responses=errors(404, 409, 422))
def compare(version: VersionPath, admin: AdminDep, registry: RegistryDep) -> ComparisonOut:
    """The version's measures beside the serving model's, on the test set; 409 if either is
    not measured on it."""
    return _comparison_out(registry.compare(version, measure=False))


@router.post("/{version}/promote", response_model=ComparisonOut, responses=errors(404, 409, 422))
def promote(
    version: VersionPath, body: PromoteIn, admin: AdminDep, registry: RegistryDep
) -> ComparisonOut:
    """Serve the version from now on (every process within CXAGENT_MODEL_CHECK_SECONDS and its
    load); 409 naming the measures if it is worse and not forced, or not measured."""
    by = f"{admin.username} (console)"
    return _comparison_out(registry.promote(version, by, force=body.force, measure=False))


@router.post("/rollback", response_model=ModelsOut, responses=errors(409))
def rollback(admin: AdminDep, registry: RegistryDep) -> ModelsOut:
    """Serve again what served before the latest promotion; 409 if nothing was promoted."""
    registry.rollback(f"{admin.username} (console)")
    return list_models(admin, registry)


def _comparison_out(comparison: Comparison) -> ComparisonOut:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    return ComparisonOut(
        candidate=comparison.candidate_name,
        serving=comparison.serving_name,
        tolerance_points=TOLERANCE_POINTS,
        worse=comparison.worse,
        rows=[
            MeasureRow(
                measure=row["measure"],
                candidate=number(row["candidate"]),
                serving=number(row["serving"]),
                change=number(row["change"]),
                worse=row["worse"],
            )
            for row in comparison.rows()
        ],
    )
