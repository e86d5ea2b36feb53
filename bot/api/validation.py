"""422 answers that say what was wrong without echoing the request back.

FastAPI's own handler returns each error's ``input`` (the whole offending value: a 10 MB
attribute object, a password) and its ``ctx`` (the exception raised, whose text is already the
message). This one keeps the shape, ``{"detail": [{"type", "loc", "msg", "ctx"?}, …]}``, with
the constraint values of ``ctx`` (``max_length``, ``expected``, …) and without the input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# Keys of a request body are named in ``loc``; a longer one is cut, as it is the input itself.
LOC_PART_MAX_CHARS = 64
# ctx entries that carry the input rather than the schema: the raised exception (its text is
# already the message) and a tagged union's tag.
ECHOING_CTX = frozenset({"error", "tag"})


def without_input(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's error dicts with only the type, where, message and the schema's limits."""
    shown = []
    for error in errors:
        item: dict[str, Any] = {
            "type": error.get("type"),
            "loc": [_short(part) for part in error.get("loc", ())],
            "msg": error.get("msg"),
        }
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping):
            limits = {
                key: value
                for key, value in ctx.items()
                if key not in ECHOING_CTX and isinstance(value, int | float | bool | str)
            }
            if limits:
                item["ctx"] = limits
        shown.append(item)
    return shown


def _short(part: object) -> object:
    if isinstance(part, str) and len(part) > LOC_PART_MAX_CHARS:
        return part[:LOC_PART_MAX_CHARS] + "…"
    return part


def install_validation_handler(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": without_input(error.errors())},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
