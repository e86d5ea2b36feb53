from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from sqlalchemy import text
from starlette.requests import HTTPConnection

from bot.api.deps import AlertsDep, RuntimeDep
from bot.api.openapi import errors
from bot.api.schemas import HealthOut
from bot.metrics import serving_metrics

router = APIRouter(tags=["health"])
_metrics_bearer = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="CXAGENT_METRICS_TOKEN"
)


@router.get("/health", response_model=HealthOut, responses=errors(503))
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
        knowledge_base_revision=(
            runtime.knowledge_sync.revision if runtime.knowledge_sync is not None else 0
        ),
    )


def require_metrics_token(
    connection: HTTPConnection,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> None:
    """/metrics exists only with CXAGENT_METRICS_TOKEN set (404 otherwise), and then answers
    only that token: the figures are the company's business."""
    secret: SecretStr | None = connection.app.state.metrics_token
    if secret is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send CXAGENT_METRICS_TOKEN as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[Depends(require_metrics_token)],
    responses=errors(401, 404, 503),
)
def metrics(alerts: AlertsDep) -> str:
    """Prometheus metrics: the negative-sentiment alert and shares, conversations by status,
    messages by role; chat turns (time, running, refused) and forward passes (bot.metrics).
    Needs the bearer token CXAGENT_METRICS_TOKEN; 404 when none is set."""
    return alerts.prometheus() + serving_metrics()
