"""The NUL character (U+0000) never reaches the database: PostgreSQL cannot store it in a text
column (psycopg refuses the whole statement, which was a 500), and in a chat it is only ever
a broken client's noise. Wherever a request carries text (its path, its query, its JSON body)
each NUL becomes U+FFFD, the character that stands for one that cannot be shown, so that a
text keeps its length and whether it is blank, and the schema's limits mean the same."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send

NUL = "\x00"
REPLACEMENT = "\ufffd"


def without_nul(value: Any) -> Any:
    """``value`` (JSON: texts, lists, objects and their keys) with each NUL replaced."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


class NulFree(BaseModel):
    """Base of the request bodies: their texts come without NUL."""

    @model_validator(mode="before")
    @classmethod
    def _without_nul(cls, data: Any) -> Any:
        return without_nul(data)


# In the URL a NUL is percent-encoded; U+FFFD is three bytes of UTF-8.
ENCODED_NUL = (b"%00", b"\x00")
ENCODED_REPLACEMENT = b"%EF%BF%BD"


class NulFreeUrls:
    """Replaces NUL in each request's path and query before any route reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["path"] = scope["path"].replace(NUL, REPLACEMENT)
            for key in ("raw_path", "query_string"):
                value = scope.get(key)
                if isinstance(value, bytes):
                    for encoded in ENCODED_NUL:
                        value = value.replace(encoded, ENCODED_REPLACEMENT)
                    scope[key] = value
        await self.app(scope, receive, send)
