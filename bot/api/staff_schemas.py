"""Request and response shapes of the staff API (the console)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.api.deps import MAX_ROW_ID
from bot.api.nul import NulFree
from bot.api.schemas import NOT_ONLY_SPACES, StaffMessageOut
from bot.support.accounts import Role


class LoginIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    name: str
    role: Role
    active: bool


class LoginOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer …` to the staff API")
    staff: StaffOut


class AccountIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    name: str | None = Field(None, max_length=200)
    role: Role = Role.AGENT


class AccountChangeIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    # Strict: pydantic would read 1 or "yes" as true, which the schema (boolean) refuses.
    active: bool | None = Field(None, strict=True)
    password: str | None = Field(None, min_length=1, max_length=256)
    current_password: str | None = Field(
        None,
        max_length=256,
        description="Your password now: needed to set your own (an admin resetting another "
        "account's password does not give it)",
    )

    @model_validator(mode="after")
    def _something(self) -> AccountChangeIn:
        if self.active is None and self.password is None:
            raise ValueError("give `active`, `password` or both")
        return self


class QueueItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    status: str
    queue: str | None
    priority: int
    high_value: bool
    waiting_since: datetime | None
    reason: str | None
    customer_id: int
    customer_name: str | None
    tier: str | None
    sentiment_trend: list[float]
    predicted_satisfaction: float = Field(description="1 to 5, for every conversation")
    assigned_to: str | None
    last_message_at: datetime | None


class EscalationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    queue: str
    priority: int
    reason: str
    rules: list[dict[str, str]]


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    name: str | None
    email: str | None
    attributes: dict[str, Any]
    first_seen_at: datetime
    last_seen_at: datetime
    conversation_count: int
    message_count: int
    churn_risk: float | None
    lifecycle_stage: str | None
    lifetime_value: float | None
    segment: str | None
    top_intents: list[str]
    sentiment_tendency: float | None
    csat_history: list[int]
    channels: list[str]


class ActionCallOut(BaseModel):
    """One call to the company's API: the bot's for a customer message, or a person's lookup."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    outcome: Literal["found", "not_found", "failed", "not_allowed"]
    status_code: int | None = Field(description="the company API's HTTP status, if it answered")
    latency_ms: float
    error: str | None = Field(description="why it failed, for the record; never personal data")
    created_at: datetime
    message_id: int | None = Field(
        description="the customer message the bot acted on; null for a person's lookup"
    )
    looked_up_by: str | None = Field(description="the person who ran a lookup; null: the bot")


class ConversationDetailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    status: str
    channel: str
    queue: str | None
    priority: int
    assigned_to: str | None
    started_at: datetime
    predicted_satisfaction: float
    customer: ProfileOut
    escalations: list[EscalationOut]
    messages: list[StaffMessageOut]
    action_calls: list[ActionCallOut] = Field(description="oldest first")


class LookupSlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    example: str
    pattern: str = Field(description="a regular expression the whole value matches, any case")


class LookupOut(BaseModel):
    """A read action an agent may run for the customer of a conversation they hold."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    slots: list[LookupSlotOut]


SlotName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
SlotValue = Annotated[str, StringConstraints(max_length=200)]


class LookupIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=64, examples=["order_status"])
    slots: dict[SlotName, SlotValue] = Field(
        default_factory=dict, max_length=20, examples=[{"order_id": "BC-204518"}]
    )


class LookupResultOut(BaseModel):
    """The answer of a lookup, for the agent only: nothing is sent to the customer."""

    model_config = ConfigDict(from_attributes=True)

    action: str
    outcome: Literal["found", "not_found", "failed", "not_allowed"]
    text: str = Field(description="the answer as the bot would word it for the customer")
    data: dict[str, Any] = Field(description="the company API's JSON object when found, else {}")
    status_code: int | None
    latency_ms: float


EntryId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# The suggestions on screen, with room for one picked from those shown for an earlier message.
MAX_SHOWN = 10
# What the service asks of a SuggestionUseIn (``_consistent``), for clients that read the
# schema: an entry with the outcome `used` or `edited`, and none with `none`.
STARTED_FROM_AN_ENTRY_OR_NONE: dict[str, Any] = {
    "anyOf": [
        {
            "properties": {"outcome": {"const": "none"}, "entry_id": {"type": "null"}},
        },
        {
            "properties": {"outcome": {"enum": ["used", "edited"]}, "entry_id": {"type": "string"}},
            "required": ["entry_id"],
        },
    ]
}


class SuggestionUseIn(NulFree):
    """What the reply started from: the suggested replies on screen when it was sent (GET
    …/suggestions) and the one it started from, if any."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=STARTED_FROM_AN_ENTRY_OR_NONE)

    message_id: int = Field(
        ge=1, le=MAX_ROW_ID, description="the customer message the suggestions were shown for"
    )
    shown: list[EntryId] = Field(
        max_length=MAX_SHOWN,
        description="the entries on screen; those the reply did not start from count as ignored",
        json_schema_extra={"uniqueItems": True},
        examples=[["track_order.where_is_my_order", "track_order.order_late"]],
    )
    entry_id: EntryId | None = Field(
        None,
        description="the entry the reply started from (shown, even if no longer on screen); "
        "null when it started from none",
    )
    outcome: Literal["none", "used", "edited"] = Field(
        description="`used`: sent as it was suggested; `edited`: changed first; `none`: none used"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SuggestionUseIn:
        if len(set(self.shown)) != len(self.shown):
            raise ValueError("`shown` names an entry twice")
        if (self.outcome == "none") != (self.entry_id is None):
            raise ValueError(
                "give `entry_id` with the outcome `used` or `edited`, and none with `none` "
                f"(got outcome {self.outcome!r}, entry_id {self.entry_id!r})"
            )
        return self


class ReplyIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        description="1 to 2,000 characters by default (CXAGENT_MAX_MESSAGE_CHARS), not counting "
        "spaces at either end",
        json_schema_extra=NOT_ONLY_SPACES,
    )
    suggestions: SuggestionUseIn | None = Field(
        None,
        description="what the reply started from, when suggested replies were shown; recorded "
        "with the reply",
    )


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: str
    question: str = Field(description="the entry's first question, which names it")
    answer: str = Field(
        description="as the bot would send it: the slots filled from the conversation and the "
        "customer's profile, or the entry's fallback when one is not known"
    )
    score: float = Field(description="the retriever's cosine similarity, -1 to 1")


class SuggestionsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    message_id: int = Field(description="the customer's last message, which they answer")
    message_text: str = Field(description="that message as stored (redacted)")
    suggestions: list[SuggestionOut] = Field(description="at most 3, best first")


class EntryUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: str
    question: str | None = Field(description="null when the entry is no longer in the base")
    used: int = Field(description="replies sent as suggested")
    edited: int = Field(description="replies that started from it and were changed")
    ignored: int = Field(description="times shown beside a reply that did not start from it")


class SuggestionUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    since: datetime
    until: datetime
    entries: list[EntryUsageOut] = Field(description="the most edited or ignored first")


class IntentCorrectionIn(NulFree):
    model_config = ConfigDict(extra="forbid")

    intent: str = Field(min_length=1, max_length=128)


class SurveyFiguresOut(BaseModel):
    group: str
    responses: int
    csat: float | None = Field(description="% of CSAT answers that are 4 or 5")
    nps: float | None = Field(description="% promoters (9-10) minus % detractors (0-6)")
    ces: float | None = Field(description="mean CES, 1 (very hard) to 7 (very easy)")


class SatisfactionOut(BaseModel):
    overall: SurveyFiguresOut
    by: str
    groups: list[SurveyFiguresOut]
    model: dict[str, Any] = Field(description="the predicted-satisfaction weights and their fit")


class SentimentAlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alert: bool
    recent_share: float | None = Field(description="negative share of the last hour's messages")
    baseline_share: float | None = Field(description="the same over the week before")
    recent_messages: int
    baseline_messages: int
    threshold: float | None
    reason: str
    enough_history: bool = Field(
        description="whether the week before holds enough messages for the alert to fire; "
        "a fresh install has not"
    )


class DayFiguresOut(BaseModel):
    day: str = Field(description="YYYY-MM-DD, UTC")


class SatisfactionDayOut(DayFiguresOut):
    responses: int
    csat: float | None
    nps: float | None
    ces: float | None


class SatisfactionTotalOut(BaseModel):
    responses: int
    csat: float | None
    nps: float | None
    ces: float | None


class ResolutionOut(BaseModel):
    conversations: int
    without_person: int
    share: float | None = Field(description="resolved without a person, 0 to 1")


class ResolvedByActionsOut(BaseModel):
    conversations: int = Field(
        description="conversations with an action the bot ran that found what was asked, and "
        "no person: neither escalated nor taken over or answered by staff"
    )
    share: float | None = Field(description="of all conversations in the window, 0 to 1")


class ResolutionDayOut(DayFiguresOut):
    conversations: int
    without_person: int


class SentimentDayOut(DayFiguresOut):
    negative: int
    neutral: int
    positive: int
    mean_score: float | None = Field(description="-1 (negative) to 1 (positive)")


class ReasonCountOut(BaseModel):
    reason: str
    count: int


class IntentCountOut(BaseModel):
    intent: str
    count: int


class UnansweredOut(BaseModel):
    text: str
    count: int
    last_at: datetime


class DashboardTotalsOut(BaseModel):
    conversations: int
    messages: int
    surveys: int
    escalations: int


class DashboardOut(BaseModel):
    since: datetime
    until: datetime
    totals: DashboardTotalsOut
    satisfaction: list[SatisfactionDayOut]
    satisfaction_overall: SatisfactionTotalOut = Field(description="over the whole window")
    resolution: ResolutionOut
    resolved_by_actions: ResolvedByActionsOut
    resolution_by_day: list[ResolutionDayOut]
    escalations_by_reason: list[ReasonCountOut]
    sentiment: list[SentimentDayOut]
    top_intents: list[IntentCountOut]
    unanswered: list[UnansweredOut] = Field(description="questions the bot could not answer")
