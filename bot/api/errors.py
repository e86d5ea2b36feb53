"""Domain errors become HTTP errors here, and only here."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.api.admission import BUSY, Busy
from bot.conversation.service import ClientGone
from bot.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Rejected,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from bot.storage.db import DatabaseUnavailable

logger = logging.getLogger(__name__)

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Rejected: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Conflict: status.HTTP_409_CONFLICT,
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
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

    async def database_unavailable(_: Request, error: Exception) -> JSONResponse:
        detail = unavailable(error)
        assert detail is not None  # registered for exactly those errors below
        return JSONResponse(
            {"detail": detail},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, database_unavailable)


# Seconds a client is asked to wait (Retry-After) before it sends again what a 503 refused: a
# database restarting, or a burst that holds every connection or turn slot, is usually over by
# then.
RETRY_AFTER_SECONDS = 2
DATABASE_DOWN = "the database is unavailable; nothing was stored, please retry"
POOL_BUSY = "every database connection is in use; nothing was stored, please retry"
# Errors that time may mend: the database is down or unreachable, every connection is busy, or
# every turn slot of the process is taken (bot.api.admission).
UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    OperationalError,
    PoolTimeout,
    Busy,
    ClientGone,
)


def unavailable(error: BaseException) -> str | None:
    """What to tell a client whose request failed because the database cannot serve it now
    (the transaction was rolled back, or the turn was refused on arrival, so nothing of it was
    stored), or None for other errors.
    One answer for a REST call (a 503) and a socket's frame (an ``error`` frame)."""
    if isinstance(error, DatabaseUnavailable):
        return str(error)
    if isinstance(error, Busy):
        return BUSY
    if isinstance(error, ClientGone):
        return str(error)  # nobody reads it: the client has left
    if isinstance(error, PoolTimeout):
        logger.warning("database pool exhausted: %s", str(error).splitlines()[0])
        return POOL_BUSY
    if isinstance(error, OperationalError):
        logger.error("database error: %s", str(error.orig).strip().splitlines()[0])
        return DATABASE_DOWN
    return None
