from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from bot.api.deps import AlertsDep, RuntimeDep
from bot.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(runtime: RuntimeDep) -> HealthOut:
    """Ready when the database answers; 503 otherwise."""
    # Through a session, like every request: a database that is down gives 503 (see errors.py).
    with runtime.sessions() as session:
        session.execute(text("SELECT 1"))
    return HealthOut(
        status="ok",
        knowledge_base_entries=len(runtime.knowledge_base),
        index_rows=len(runtime.retriever.index.keys),
        encoder=runtime.encoder.name,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(alerts: AlertsDep) -> str:
    """Prometheus metrics: the negative-sentiment alert and shares, conversations by status,
    messages by role."""
    return alerts.prometheus()
