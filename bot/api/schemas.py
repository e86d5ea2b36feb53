"""The API's request and response shapes (separate from the database tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.api.nul import NulFree
from bot.conversation.identity import (
    ATTRIBUTE_KEY_MAX_CHARS,
    ATTRIBUTE_LIMITS,
    ATTRIBUTE_LIST_MAX_ITEMS,
    ATTRIBUTE_TEXT_MAX_CHARS,
    ATTRIBUTES_MAX_KEYS,
    EMAIL_MAX_CHARS,
    EXTERNAL_ID_MAX_CHARS,
    NAME_MAX_CHARS,
    Attributes,
)
from bot.messages import MessageRole

# A token carries the attributes (4 KB of JSON at most), base64-encoded, and the other claims.
IDENTITY_TOKEN_MAX_CHARS = 8192
# What a message's text must hold besides its length: something other than spaces (the service
# strips the text, and refuses an empty one with a 422 of its own wording).
NOT_ONLY_SPACES: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}


def _attributes_schema() -> dict[str, Any]:
    """The attribute limits as JSON Schema (all but the 4 KB of JSON, which it cannot say):
    objects and lists three levels deep, their names and texts bounded."""
    scalar: dict[str, Any] = {
        "anyOf": [
            {"type": "string", "maxLength": ATTRIBUTE_TEXT_MAX_CHARS},
            {"type": ["number", "boolean", "null"]},
        ]
    }

    def level(inner: dict[str, Any]) -> dict[str, Any]:
        return {
            "anyOf": [
                scalar,
                {
                    "type": "object",
                    "maxProperties": ATTRIBUTES_MAX_KEYS,
                    "propertyNames": {"maxLength": ATTRIBUTE_KEY_MAX_CHARS},
                    "additionalProperties": inner,
                },
                {"type": "array", "maxItems": ATTRIBUTE_LIST_MAX_ITEMS, "items": inner},
            ]
        }

    return {
        "propertyNames": {"maxLength": ATTRIBUTE_KEY_MAX_CHARS},
        "additionalProperties": level(level(scalar)),
    }


class CustomerIn(NulFree):
    """What an anonymous visitor says of themselves, for their own fresh profile. Who a known
    customer is comes only in ``identity_token``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=NAME_MAX_CHARS, description="A display name")
    email: str | None = Field(None, max_length=EMAIL_MAX_CHARS)
    external_id: str | None = Field(
        None,
        max_length=EXTERNAL_ID_MAX_CHARS,
        deprecated=True,
        description="Ignored: a customer id counts only inside identity_token",
    )
    attributes: Attributes = Field(
        default_factory=dict,
        deprecated=True,
        description=f"Ignored: attributes count only inside identity_token; {ATTRIBUTE_LIMITS}",
        json_schema_extra=_attributes_schema(),
    )


class StartConversationIn(NulFree):
    model_config = ConfigDict(
        extra="forbid",
        # _one_identity below, for clients that read the schema: no customer beside a token.
        json_schema_extra={
            "not": {
                "required": ["identity_token", "customer"],
                "properties": {
                    "identity_token": {"type": "string"},
                    "customer": {"minProperties": 1},
                },
            }
        },
    )

    identity_token: str | None = Field(
        None,
        min_length=1,
        max_length=IDENTITY_TOKEN_MAX_CHARS,
        description="The site's signed-in customer: a JWT (HS256, keyed with the identity "
        "secret) with sub (the site's customer id), exp, and optionally name, email and "
        "attributes; without it the visitor is anonymous",
    )
    customer: CustomerIn = Field(default_factory=CustomerIn)
    channel: str = Field("web", min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_identity(self) -> StartConversationIn:
        if self.identity_token is not None and self.customer.model_fields_set:
            raise ValueError(
                "with identity_token, the customer's details go inside the token; send no "
                "customer beside it"
            )
        return self


class StartConversationOut(BaseModel):
    conversation_id: str
    customer_id: int
    customer_token: str = Field(description="Send as `Authorization: Bearer …`; shown only once")


class MessageIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        description="The customer's message; 1 to 2,000 characters by default "
        "(CXAGENT_MAX_MESSAGE_CHARS), not counting spaces at either end",
        json_schema_extra=NOT_ONLY_SPACES,
    )
    client_message_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The client's own id; a resend with the same id is answered once",
    )


class MessageOut(BaseModel):
    """A message as the customer sees it (bot.messages.CUSTOMER_FIELDS): the model's reading of
    it (intent, sentiment) is stored but not shown, since how the bot judged their mood is for
    the staff who help them."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    role: MessageRole
    text: str
    created_at: datetime
    client_message_id: str | None = None
    entry_id: str | None = None
    score: float | None = None
    decision: str | None = None
    latency_ms: float | None = None
    author: str | None = Field(None, description="who wrote an agent message")


class QuestionOut(BaseModel):
    """One question of a customer message as the model read it, and what answered it."""

    text: str = Field(description="what the model read: redacted, emoji as words, corrected")
    corrections: dict[str, str] = Field(
        default_factory=dict, description="{as typed: as read} for each corrected word"
    )
    topic: str | None = Field(
        None, description="the entry whose question a follow-up was read after"
    )
    intent: str | None = None
    intent_confidence: float | None = None
    out_of_scope: bool | None = None
    sentiment: str | None = None
    entry_id: str | None = None
    score: float | None = None
    decision: str | None = None
    reason: str | None = None


class StaffMessageOut(MessageOut):
    """A message with everything the bot read in it and decided (bot.messages.MessageView)."""

    decision_reason: str | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    out_of_scope: bool | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    corrected_intent: str | None = None
    questions: list[QuestionOut] | None = Field(
        None, description="each question the model read in a customer message, in order"
    )


class TurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message: MessageOut
    # None while a person is waited for or has the conversation: the bot stays silent.
    reply: MessageOut | None


class TranscriptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    status: str
    agent: str | None = Field(description="the person who has the conversation now, if any")
    messages: list[MessageOut]


class HealthOut(BaseModel):
    status: str
    knowledge_base_entries: int
    index_rows: int
    encoder: str
    knowledge_base_revision: int = Field(
        description="the revision of the knowledge base this process serves (how many changes "
        "were ever made to it, its first import's included); every process reaches the newest "
        "within seconds"
    )


def _a_number(value: Any) -> Any:
    # Pydantic reads true as 1 and "3" as 3, which JSON Schema's integer refuses; 3.0 it takes.
    if isinstance(value, bool | str):
        raise ValueError("give a whole number")
    return value


# What the survey service asks (SurveyAnswers.check), for clients that read the schema: not
# every answer missing or null (and the comment not empty).
SURVEY_ANSWERED: dict[str, Any] = {
    "not": {
        "properties": {
            "csat": {"type": "null"},
            "nps": {"type": "null"},
            "ces": {"type": "null"},
            "comment": {"anyOf": [{"type": "null"}, {"const": ""}]},
        }
    }
}


class SurveyIn(NulFree):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=SURVEY_ANSWERED,
    )

    csat: Annotated[int, Field(ge=1, le=5), BeforeValidator(_a_number)] | None = Field(
        None, description="How satisfied: 1 (very un-) to 5"
    )
    nps: Annotated[int, Field(ge=0, le=10), BeforeValidator(_a_number)] | None = Field(
        None, description="How likely to recommend us: 0 to 10"
    )
    ces: Annotated[int, Field(ge=1, le=7), BeforeValidator(_a_number)] | None = Field(
        None, description="How easy it was: 1 (very hard) to 7"
    )
    comment: str | None = Field(None, max_length=2000)
