"""One shape for a message, as every part of the service passes it around.

`MessageView` carries all a message's stored fields (what staff see); `customer_view` is the
part a customer sees, as plain JSON-ready data for sockets and live events. The API's
`MessageOut` and `StaffMessageOut` (bot/api/schemas.py) declare these same two shapes for the
OpenAPI description, and a test holds them to these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic_core import to_jsonable_python


class MessageRole(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"


class StoredMessage(Protocol):
    """The columns of a stored message row (bot.storage.models.Message) that a view reads."""

    id: int
    role: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class MessageView:
    id: int
    role: str
    text: str
    created_at: datetime
    client_message_id: str | None = None
    entry_id: str | None = None
    score: float | None = None
    decision: str | None = None
    decision_reason: str | None = None
    latency_ms: float | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    out_of_scope: bool | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    corrected_intent: str | None = None
    # Each question the model read in a customer message (bot.storage.models.Message.questions).
    questions: list[dict[str, Any]] | None = None
    # The name of the person who wrote an agent message; not a column of its own.
    author: str | None = None

    @classmethod
    def of(cls, message: StoredMessage, author: str | None = None) -> MessageView:
        stored = {name: getattr(message, name) for name in STORED_FIELDS}
        return cls(**stored, author=author)

    def columns(self) -> dict[str, Any]:
        """The ``messages`` columns this view carries, all but the id the database assigns."""
        return {name: getattr(self, name) for name in STORED_FIELDS if name != "id"}


ALL_FIELDS = tuple(f.name for f in fields(MessageView))
STORED_FIELDS = tuple(name for name in ALL_FIELDS if name != "author")
# What a customer sees of a message: not how the bot read their mood or intent, which is for
# the staff who help them.
CUSTOMER_FIELDS = (
    "id",
    "role",
    "text",
    "created_at",
    "client_message_id",
    "entry_id",
    "score",
    "decision",
    "latency_ms",
    "author",
)


def customer_view(view: MessageView) -> dict[str, Any]:
    """The message as the customer's widget receives it: JSON-ready, written as the REST API
    writes it (times in ISO 8601)."""
    shown: dict[str, Any] = to_jsonable_python(
        {name: getattr(view, name) for name in CUSTOMER_FIELDS}
    )
    return shown
