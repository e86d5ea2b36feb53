"""Domain errors become HTTP errors here, and only here."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from bot.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Rejected,
    ServiceError,
    Unauthenticated,
)
from bot.storage.db import DatabaseUnavailable

logger = logging.getLogger(__name__)

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Rejected: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Conflict: status.HTTP_409_CONFLICT,
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
}


def status_of(error: ServiceError) -> int:
    for kind, code in STATUS_OF.items():
        if isinstance(error, kind):
            return code
    return status.HTTP_400_BAD_REQUEST


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status_of(error))

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, error: OperationalError) -> JSONResponse:
        # The transaction was rolled back: nothing of the request was stored.
        logger.error("database error: %s", str(error.orig).strip().splitlines()[0])
        return JSONResponse(
            {"detail": "the database is unavailable; nothing was stored, please retry"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(DatabaseUnavailable)
    async def database_unreachable(_: Request, error: DatabaseUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
