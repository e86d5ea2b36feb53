"""Request and response shapes of the knowledge-base API (the console's Knowledge page).

An entry travels as the YAML file writes it (retrieval.knowledge_base.entry_document); the
shapes check types and sizes here, and the knowledge base's own rules (slots, fallbacks,
variants' keys) are checked by the service, whose refusal names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.api.nul import NulFree
from bot.support.knowledge import KnowledgeAction

ENTRY_ID = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")
TEXT = Field(min_length=1, max_length=4000)


class VariantIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    when: dict[str, str] = Field(
        description="profile facts the customer must match: tier, segment, lifecycle_stage"
    )
    answer: str = TEXT
    fallback: str | None = Field(None, max_length=4000)


class EntryIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    id: str = ENTRY_ID
    intent: str = Field(min_length=1, max_length=64)
    questions: list[str] = Field(min_length=1, max_length=200)
    answer: str = TEXT
    fallback: str | None = Field(
        None, max_length=4000, description="the wording without slots, needed when answer has any"
    )
    variants: list[VariantIn] = Field(default_factory=list, max_length=20)
    action: str | None = Field(
        None,
        max_length=64,
        description="the action (by name, in the actions file) answering this entry runs; "
        "null: the one the actions file names for the entry or its intent",
    )

    def document(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class EditIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    entry: EntryIn
    base_version: int | None = Field(
        None, ge=1, description="the version you edited: 409 if the entry changed since"
    )


class RetireIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    base_version: int | None = Field(None, ge=1)


class RevertIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1)


class QuestionIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)


class EntryOut(BaseModel):
    id: str
    content: dict[str, Any] = Field(description="the entry as the YAML file writes it")
    retired: bool
    version: int
    updated_at: datetime
    action: str | None = Field(
        None,
        description="the action answering this entry runs: the entry's own, else the one the "
        "actions file names for it or its intent",
    )


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    writes: bool


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    action: KnowledgeAction
    content: dict[str, Any]
    retired: bool
    author: str | None = Field(description="who made the change; null for an import")
    created_at: datetime
    reverted_to: int | None


class FieldChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    before: Any
    after: Any


class ComparisonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: str
    older: VersionOut
    newer: VersionOut
    changes: list[FieldChangeOut]
