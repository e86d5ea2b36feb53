"""Database tables: customers (their profile), conversations and messages.

Later capabilities hang on these: NLU fields on every message, the conversation's status for
handoff, free-form profile attributes and conversation slots as JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id the company's own site knows the customer by; None for anonymous visitors.
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation_count: Mapped[int] = mapped_column(default=0)
    message_count: Mapped[int] = mapped_column(default=0)
    # Computed from the history (bot.analytics.profiles), refreshed as conversations start.
    churn_risk: Mapped[float | None] = mapped_column(Float)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))  # new|active|at_risk|churned
    lifetime_value: Mapped[float | None] = mapped_column(Float)
    segment: Mapped[str | None] = mapped_column(String(128))

    conversations: Mapped[list[Conversation]] = relationship(back_populates="customer")


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # sha256 of the customer token; the token itself is only ever shown to the customer.
    token_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="web")
    status: Mapped[str] = mapped_column(String(32), default="bot")
    # What the conversation has learnt so far (order number, …), used to fill answer slots.
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The dialogue policy's memory between turns (bot.conversation.policy.DialogueState).
    dialogue: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the conversation is escalated: where it waits and how urgently (see escalation).
    queue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(default=0)
    high_value: Mapped[bool] = mapped_column(default=False)
    waiting_since: Mapped[datetime | None] = mapped_column()
    # The member of staff who has taken the conversation over.
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    customer: Mapped[Customer] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )

    def leave_queue(self) -> None:
        """Out of the people's queue: nobody has it and nothing is waiting."""
        self.assigned_staff_id = None
        self.queue = None
        self.priority = 0
        self.high_value = False
        self.waiting_since = None


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A client that resends after a dropped connection must not create the message twice.
        UniqueConstraint("conversation_id", "client_message_id", name="uq_messages_client_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # customer | bot | agent | system
    text: Mapped[str] = mapped_column(Text)  # personal data already redacted
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # What answered (bot messages): the knowledge-base entry, its similarity and the turn's time.
    entry_id: Mapped[str | None] = mapped_column(String(128))
    score: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(32))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # What the language model read in customer messages.
    intent: Mapped[str | None] = mapped_column(String(128))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    out_of_scope: Mapped[bool | None] = mapped_column()
    sentiment: Mapped[str | None] = mapped_column(String(16))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    # Each question the model read in a customer message: [{"text": what it read,
    # "corrections": {typed: read}, "topic": the entry a follow-up was read after, "intent",
    # "intent_confidence", "out_of_scope", "sentiment", "entry_id", "score", "decision",
    # "reason"}, …]; the columns above hold the first question's reading.
    questions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # A person's correction of the intent, which training data exports prefer.
    corrected_intent: Mapped[str | None] = mapped_column(String(128))
    # Who wrote an agent message.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Escalation(Base):
    """A hand-over to people: which rules fired on which message, and why."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    # [{"rule": name, "why": what made it fire}, …] for every rule that fired.
    rules: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class Staff(Base):
    """A support agent or administrator who works in the console."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # agent | editor | admin
    # scrypt: "scrypt$<salt hex>$<hash hex>"; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A logged-in console: the sha256 of its bearer token, and until when it is good."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class StaffAction(Base):
    """Every action a member of staff takes, for the record."""

    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Survey(Base):
    """The customer's answers at the end of a conversation (each question optional)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    csat: Mapped[int | None] = mapped_column()  # 1-5
    nps: Mapped[int | None] = mapped_column()  # 0-10
    ces: Mapped[int | None] = mapped_column()  # 1-7
    comment: Mapped[str | None] = mapped_column(Text)  # redacted
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FittedModel(Base):
    """Parameters a command refits from data (the satisfaction weights, …), with its metrics."""

    __tablename__ = "fitted_models"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column()
    metrics: Mapped[dict[str, Any]] = mapped_column()
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ActionCall(Base):
    """One call an action made to the company's API, for the console and /metrics: what, how it
    ended and how long it took; never the secrets or the response's personal data."""

    __tablename__ = "action_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    # The customer message the bot acted on; None for a lookup a person ran from the console.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Who ran a lookup from the console; None for the bot's own calls.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # found | not_found | failed | not_allowed
    status_code: Mapped[int | None] = mapped_column()
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PrivacyRecord(Base):
    """Each export or erasure of a customer's data, for the record (bot.analytics.privacy): what,
    when, by whom (a member of staff, or the command line) and for which customer, by internal
    id only, so that the record names nobody once the customer is erased."""

    __tablename__ = "privacy_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # export | erase | purge
    # No foreign key: the record outlives whatever it erased.
    customer_id: Mapped[int] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(16))  # staff | cli | service
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # What was exported or erased: rows per table, never their content.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ErasedActivity(Base):
    """What erased conversations add up to, per day they started: counts alone, of nobody in
    particular, so totals over time stay right after customers are erased."""

    __tablename__ = "erased_activity"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    conversations: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    escalations: Mapped[int] = mapped_column(default=0)
    surveys: Mapped[int] = mapped_column(default=0)
    csat_answers: Mapped[int] = mapped_column(default=0)
    csat_total: Mapped[int] = mapped_column(default=0)
    action_calls: Mapped[int] = mapped_column(default=0)


class ReplySuggestion(Base):
    """What became of one suggested reply (bot.support.suggestions) when a person answered a
    customer: the knowledge-base entry their reply started from (used as is, or edited), or one
    shown beside the reply box and not used (ignored). Per entry, these show which answers
    people keep rewriting or passing over."""

    __tablename__ = "reply_suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    # The customer message the suggestions answered, and the person's reply.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    reply_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    entry_id: Mapped[str] = mapped_column(String(128), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # used | edited | ignored
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class KnowledgeEntry(Base):
    """A knowledge-base entry as it stands now (bot.support.knowledge); retired entries stay,
    so that their history and a revert still have them."""

    __tablename__ = "knowledge_entries"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Where the entry stands in the knowledge base (the YAML file's order, new ones at the end).
    position: Mapped[int] = mapped_column()
    # The entry's document, as the YAML file writes it (retrieval.knowledge_base.entry_document).
    content: Mapped[dict[str, Any]] = mapped_column()
    retired: Mapped[bool] = mapped_column(default=False)
    # The number of its latest version (1, 2, …).
    version: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeVersion(Base):
    """Every change to a knowledge-base entry: the whole entry after it, who made it and when.
    Its id grows with every change to any entry, so the largest is the knowledge base's
    revision, which every worker compares with the one it serves."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("knowledge_entries.id"), index=True)
    version: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(16))  # import | create | edit | retire | revert
    content: Mapped[dict[str, Any]] = mapped_column()
    retired: Mapped[bool] = mapped_column(default=False)
    # Who made the change; None for an import from the command line or at start-up.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The version a revert went back to.
    reverted_to: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ModelServing(Base):
    """Each change of the served model version (bot.models_registry): a promotion or a rollback,
    who made it, whether the tolerance was overridden, and the metric table it was decided on.
    The latest row's ``version`` is what every worker serves; the bundles themselves live in the
    registry folder (CXAGENT_MODEL_REGISTRY)."""

    __tablename__ = "model_serving"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The version served from this change on; None: back to CXAGENT_NLU_BUNDLE (the first
    # promotion rolled back).
    version: Mapped[str | None] = mapped_column(String(64))
    # The version that served before this change; None: CXAGENT_NLU_BUNDLE did.
    previous: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # promote | rollback
    by: Mapped[str] = mapped_column(String(200))
    forced: Mapped[bool] = mapped_column(default=False)
    # {"candidate": {measure: value}, "serving": {...}, "worse": "..."}; {} for a rollback.
    metrics: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
