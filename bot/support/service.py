"""The console's work: the escalation queue, a conversation with everything the bot read in it
and every action it ran, taking over, replying, handing back, closing, correcting a wrong intent,
and looking something up in the company's systems for the customer in front of the agent. Every
action is recorded with who took it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bot.actions.runner import ActionResult, Outcome, unanswered
from bot.actions.spec import ActionCatalog, ActionSpec
from bot.analytics.satisfaction import SatisfactionService
from bot.conversation.forms import VERIFY_ACTION
from bot.conversation.policy import DialogueState
from bot.conversation.redaction import redact
from bot.conversation.service import (
    ActionCaller,
    conversation_facts,
    record_call,
    turn_context,
)
from bot.conversation.states import Status, move
from bot.errors import Forbidden, NotFound, Rejected
from bot.live.events import EventHub, conversation_topic
from bot.messages import MessageRole, MessageView, customer_view
from bot.storage.models import (
    ActionCall,
    Conversation,
    Customer,
    Escalation,
    Message,
    Staff,
    Survey,
    utcnow,
)
from bot.support.accounts import Role, StaffMember, record

# How many of a conversation's latest customer messages make its sentiment trend.
TREND_LENGTH = 10


@dataclass(frozen=True)
class QueueItem:
    conversation_id: str
    status: str
    queue: str | None
    priority: int
    high_value: bool
    waiting_since: datetime | None
    reason: str | None  # why it was escalated (the latest escalation)
    customer_id: int
    customer_name: str | None
    tier: str | None
    sentiment_trend: list[float]  # the latest customer messages' scores, oldest first, -1 to 1
    predicted_satisfaction: float  # 1 to 5 (see bot.analytics.satisfaction)
    assigned_to: str | None
    last_message_at: datetime | None


@dataclass(frozen=True)
class EscalationView:
    created_at: datetime
    queue: str
    priority: int
    reason: str
    rules: list[dict[str, str]]


@dataclass(frozen=True)
class ProfileView:
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
    top_intents: list[str]  # most asked first, across all the customer's conversations
    sentiment_tendency: float | None  # mean sentiment score of all their messages, -1 to 1
    csat_history: list[int]  # their survey answers, oldest first
    channels: list[str]


@dataclass(frozen=True)
class ActionCallView:
    """One call to the company's API in a conversation: the bot's, for a customer message, or
    a person's lookup from the console."""

    id: int
    action: str
    outcome: str  # found | not_found | failed | not_allowed
    status_code: int | None
    latency_ms: float
    error: str | None  # for the record: never a secret nor the customer's data
    created_at: datetime
    message_id: int | None  # the customer message the bot acted on; None for a lookup
    looked_up_by: str | None  # the person who ran a lookup; None for the bot


@dataclass(frozen=True)
class LookupSlot:
    name: str
    example: str
    pattern: str


@dataclass(frozen=True)
class Lookup:
    """A read action a person may run from the console."""

    name: str
    description: str
    slots: list[LookupSlot]


@dataclass(frozen=True)
class LookupResult:
    """What a person's lookup came to: for the person, never sent to the customer."""

    action: str
    outcome: str  # found | not_found | failed | not_allowed
    text: str  # the answer as the bot would word it for the customer
    data: dict[str, Any]  # the company API's JSON object when found, else {}
    status_code: int | None
    latency_ms: float


@dataclass(frozen=True)
class ConversationDetail:
    conversation_id: str
    status: str
    channel: str
    queue: str | None
    priority: int
    assigned_to: str | None
    started_at: datetime
    predicted_satisfaction: float
    customer: ProfileView
    escalations: list[EscalationView]
    messages: list[MessageView]
    action_calls: list[ActionCallView]  # oldest first


class SupportService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        max_message_chars: int,
        known_intents: frozenset[str],
        satisfaction: SatisfactionService,
        events: EventHub,
        actions: ActionCatalog,
        runner: ActionCaller | None,
        identity_secret: str | None,
    ) -> None:
        """``runner`` None: no company API, so every lookup answers not allowed;
        ``identity_secret`` None: the site's customer ids are unsigned, and only a customer who
        proved who they are in the conversation can be looked up (as in the chat)."""
        self.sessions = sessions
        self.events = events
        self.satisfaction = satisfaction
        self.max_message_chars = max_message_chars
        # Intents a correction may name: the model's and the knowledge base's.
        self.known_intents = known_intents
        self.actions = actions
        self.runner = runner
        self.identity_secret = identity_secret

    def queue(
        self,
        member: StaffMember,
        statuses: tuple[Status, ...] = (Status.WAITING, Status.WITH_AGENT),
        queue: str | None = None,
        mine: bool = False,
        limit: int = 100,
    ) -> list[QueueItem]:
        """Conversations for people: high-value customers first, then the most urgent, then the
        newest escalation; conversations nobody waits on (the bot's, closed ones) after them,
        the latest message first."""
        with self.sessions() as session:
            query = (
                select(Conversation)
                .options(joinedload(Conversation.customer))
                .where(Conversation.status.in_([s.value for s in statuses]))
                .order_by(
                    Conversation.high_value.desc(),
                    Conversation.priority.desc(),
                    Conversation.waiting_since.desc().nulls_last(),
                    Conversation.last_message_at.desc().nulls_last(),
                )
                .limit(limit)
            )
            if queue is not None:
                query = query.where(Conversation.queue == queue)
            if mine:
                query = query.where(Conversation.assigned_staff_id == member.id)
            conversations = session.scalars(query).all()
            ids = [c.id for c in conversations]
            reasons = self._latest_reasons(session, ids)
            trends = self._sentiment_trends(session, ids)
            names = self._staff_names(session)
            model = self.satisfaction.model()
            features = self.satisfaction.features(session, ids)
            return [
                QueueItem(
                    conversation_id=c.id,
                    status=c.status,
                    queue=c.queue,
                    priority=c.priority,
                    high_value=c.high_value,
                    waiting_since=c.waiting_since,
                    reason=reasons.get(c.id),
                    customer_id=c.customer_id,
                    customer_name=c.customer.name,
                    tier=_tier(c.customer),
                    sentiment_trend=trends.get(c.id, []),
                    predicted_satisfaction=round(model.predict(features[c.id]), 2),
                    assigned_to=names.get(c.assigned_staff_id or -1),
                    last_message_at=c.last_message_at,
                )
                for c in conversations
            ]

    def conversation(self, member: StaffMember, conversation_id: str) -> ConversationDetail:
        with self.sessions() as session:
            conversation = _conversation(session, conversation_id)
            messages = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            ).all()
            escalations = session.scalars(
                select(Escalation)
                .where(Escalation.conversation_id == conversation_id)
                .order_by(Escalation.id)
            ).all()
            customer = conversation.customer
            names = self._staff_names(session)
            return ConversationDetail(
                conversation_id=conversation.id,
                status=conversation.status,
                channel=conversation.channel,
                queue=conversation.queue,
                priority=conversation.priority,
                assigned_to=names.get(conversation.assigned_staff_id or -1),
                started_at=conversation.started_at,
                predicted_satisfaction=round(
                    self.satisfaction.model().predict(
                        self.satisfaction.features(session, [conversation.id])[conversation.id]
                    ),
                    2,
                ),
                customer=ProfileView(
                    id=customer.id,
                    external_id=customer.external_id,
                    name=customer.name,
                    email=customer.email,
                    attributes=customer.attributes or {},
                    first_seen_at=customer.first_seen_at,
                    last_seen_at=customer.last_seen_at,
                    conversation_count=customer.conversation_count,
                    message_count=customer.message_count,
                    churn_risk=customer.churn_risk,
                    lifecycle_stage=customer.lifecycle_stage,
                    lifetime_value=customer.lifetime_value,
                    segment=customer.segment,
                    **_history(session, customer.id),
                ),
                escalations=[
                    EscalationView(e.created_at, e.queue, e.priority, e.reason, e.rules)
                    for e in escalations
                ],
                messages=[MessageView.of(m, names.get(m.staff_id or -1)) for m in messages],
                action_calls=_action_calls(session, conversation_id, names),
            )

    def lookups(self) -> list[Lookup]:
        """The actions a person may run from the console: those that only read. Writes stay
        the customer's to confirm in the chat, and the proof of identity is the customer's to
        give."""
        return [
            Lookup(
                spec.name,
                spec.description,
                [LookupSlot(slot.name, slot.example, slot.pattern) for slot in spec.slots],
            )
            for spec in self.actions.actions
            if _lookup_allowed(spec)
        ]

    def lookup(
        self, member: StaffMember, conversation_id: str, action: str, slots: Mapping[str, str]
    ) -> LookupResult:
        """Run a read action for the customer of a conversation the member holds, with the
        customer id the chat would use: the one the site signed, or the one the customer proved
        in the conversation; without either the answer is not allowed and nothing is called.
        The answer is the member's alone; the call is recorded like the bot's."""
        spec = self._lookup_spec(action)
        values = {name: value for name, value in slots.items() if isinstance(value, str)}
        missing = spec.missing_slots(values)
        if missing:
            raise Rejected(
                "; ".join(f"{slot.name}: give a value like {slot.example}" for slot in missing)
            )
        with self.sessions() as session:
            conversation = _conversation(session, conversation_id)
            self.must_hold(conversation, member)
            facts, _ = conversation_facts(session, conversation_id)
            customer_id = turn_context(facts, self.identity_secret).verified_customer_id
        result = self._run(spec, values, customer_id)
        with self.sessions.begin() as session:
            record_call(session, conversation_id, result, staff_id=member.id)
            record(
                session,
                member,
                "lookup",
                conversation_id,
                lookup=spec.name,
                outcome=result.outcome.value,
            )
        return LookupResult(
            result.action,
            result.outcome.value,
            result.text,
            result.data if result.outcome is Outcome.FOUND else {},
            result.status_code,
            round(result.latency_ms, 1),
        )

    def _lookup_spec(self, action: str) -> ActionSpec:
        spec = self.actions.get(action)
        allowed = ", ".join(lookup.name for lookup in self.lookups()) or "none"
        if spec is None:
            raise Rejected(f"unknown action {action!r}; the lookups are: {allowed}")
        if spec.writes:
            raise Rejected(
                f"{action!r} changes something in the company's systems: only the customer can "
                f"confirm that, in the chat. The lookups are: {allowed}"
            )
        if not _lookup_allowed(spec):
            raise Rejected(
                f"{action!r} checks the customer's own proof of who they are; the lookups are: "
                f"{allowed}"
            )
        return spec

    def _run(
        self, spec: ActionSpec, slots: dict[str, str], customer_id: str | None
    ) -> ActionResult:
        if customer_id is None or self.runner is None:
            error = "no verified customer" if customer_id is None else "no company API"
            return unanswered(spec, Outcome.NOT_ALLOWED, slots, error=error)
        return self.runner.run(spec, slots, customer_id=customer_id)

    def take(self, member: StaffMember, conversation_id: str) -> None:
        """Take the conversation over: the bot falls silent and the customer's messages are
        this person's to answer."""
        with self.sessions.begin() as session:
            conversation = _conversation(session, conversation_id, lock=True)
            conversation.status = move(conversation.status, Status.WITH_AGENT)
            conversation.assigned_staff_id = member.id
            record(session, member, "take", conversation_id)
        self.events.announce(conversation_id, "taken", Status.WITH_AGENT, member.name)

    def reply(
        self,
        member: StaffMember,
        conversation_id: str,
        text: str,
        *,
        alongside: Callable[[Session, int], None] | None = None,
    ) -> MessageView:
        """Send the person's reply to the customer. ``alongside(session, reply_id)`` writes what
        belongs with the reply in its transaction (what became of the suggested replies), so
        that the reply and its record are stored together or not at all."""
        stripped = text.strip()
        if not stripped or len(stripped) > self.max_message_chars:
            raise Rejected(f"a reply must have 1 to {self.max_message_chars} characters")
        with self.sessions.begin() as session:
            conversation = _conversation(session, conversation_id, lock=True)
            self.must_hold(conversation, member)
            now = utcnow()
            view = MessageView(id=0, role=MessageRole.AGENT, text=redact(stripped), created_at=now)
            message_id = session.execute(
                insert(Message)
                .values(
                    conversation_id=conversation.id,
                    customer_id=conversation.customer_id,
                    staff_id=member.id,
                    **view.columns(),
                )
                .returning(Message.id)
            ).scalar_one()
            conversation.last_message_at = now
            record(session, member, "reply", conversation_id, message_id)
            if alongside is not None:
                alongside(session, message_id)
        sent = MessageView(
            id=message_id, role=MessageRole.AGENT, text=stripped, created_at=now, author=member.name
        )
        self.events.publish(
            conversation_topic(conversation_id), {"type": "message", "message": customer_view(sent)}
        )
        self.events.announce(conversation_id, "message")
        return sent

    def typing(self, member: StaffMember, conversation_id: str) -> None:
        """Tell the customer that the person who has their conversation is writing."""
        with self.sessions() as session:
            self.must_hold(_conversation(session, conversation_id), member)
        self.events.publish(
            conversation_topic(conversation_id),
            {"type": "typing", "who": "agent", "name": member.name},
        )

    def hand_back(self, member: StaffMember, conversation_id: str) -> None:
        """Back to the bot, with a fresh start: the misses and the unhappy streak that led here
        must not escalate the next message again at once."""
        with self.sessions.begin() as session:
            conversation = _conversation(session, conversation_id, lock=True)
            if conversation.status == Status.WITH_AGENT:
                self.must_hold(conversation, member)
            conversation.status = move(conversation.status, Status.BOT)
            conversation.leave_queue()
            conversation.dialogue = DialogueState().stored()
            record(session, member, "hand_back", conversation_id)
        self.events.announce(conversation_id, "handed_back", Status.BOT)

    def close(self, member: StaffMember, conversation_id: str) -> None:
        with self.sessions.begin() as session:
            conversation = _conversation(session, conversation_id, lock=True)
            if conversation.status == Status.WITH_AGENT:
                self.must_hold(conversation, member)
            conversation.status = move(conversation.status, Status.CLOSED)
            conversation.closed_at = utcnow()
            conversation.leave_queue()
            record(session, member, "close", conversation_id)
        self.events.announce(conversation_id, "closed", Status.CLOSED)

    def correct_intent(self, member: StaffMember, message_id: int, intent: str) -> None:
        """Mark the right intent of a customer message; exports for training use it."""
        intent = intent.strip()
        if self.known_intents and intent not in self.known_intents:
            raise Rejected(
                f"unknown intent {intent!r}; known: {', '.join(sorted(self.known_intents))}"
            )
        with self.sessions.begin() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise NotFound(f"message {message_id} does not exist")
            if message.role != MessageRole.CUSTOMER:
                raise Rejected("only a customer message has an intent to correct")
            record(
                session,
                member,
                "correct_intent",
                message.conversation_id,
                message.id,
                predicted=message.intent,
                previous_correction=message.corrected_intent,
                corrected=intent,
            )
            session.execute(
                update(Message).where(Message.id == message_id).values(corrected_intent=intent)
            )

    @staticmethod
    def must_hold(conversation: Conversation, member: StaffMember) -> None:
        """Forbidden unless the member has the conversation (an admin, anyone's taken one)."""
        if conversation.status != Status.WITH_AGENT:
            raise Forbidden(f"take the conversation over first (it is {conversation.status})")
        if conversation.assigned_staff_id != member.id and member.role is not Role.ADMIN:
            raise Forbidden("another member of staff has this conversation")

    @staticmethod
    def _latest_reasons(session: Session, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        latest = (
            select(func.max(Escalation.id))
            .where(Escalation.conversation_id.in_(ids))
            .group_by(Escalation.conversation_id)
        )
        rows = session.execute(
            select(Escalation.conversation_id, Escalation.reason).where(Escalation.id.in_(latest))
        ).all()
        return {conversation_id: reason for conversation_id, reason in rows}

    @staticmethod
    def _sentiment_trends(session: Session, ids: list[str]) -> dict[str, list[float]]:
        trends: dict[str, list[float]] = {}
        if not ids:
            return trends
        rows = session.execute(
            select(Message.conversation_id, Message.sentiment_score)
            .where(
                Message.conversation_id.in_(ids),
                Message.role == MessageRole.CUSTOMER,
                Message.sentiment_score.is_not(None),
            )
            .order_by(Message.id)
        ).all()
        for conversation_id, score in rows:
            if score is not None:
                trends.setdefault(conversation_id, []).append(round(float(score), 3))
        return {key: values[-TREND_LENGTH:] for key, values in trends.items()}

    @staticmethod
    def _staff_names(session: Session) -> dict[int, str]:
        return {row.id: row.name for row in session.scalars(select(Staff)).all()}


def _conversation(session: Session, conversation_id: str, lock: bool = False) -> Conversation:
    query = (
        select(Conversation)
        .options(joinedload(Conversation.customer))
        .where(Conversation.id == conversation_id)
    )
    if lock:
        # Two agents taking the same conversation at once: the second waits, then sees it taken.
        query = query.with_for_update(of=Conversation)
    conversation = session.scalar(query)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id!r} does not exist")
    return conversation


def _history(session: Session, customer_id: int) -> dict[str, Any]:
    """The customer's history across all conversations and channels."""
    intents = session.execute(
        select(func.coalesce(Message.corrected_intent, Message.intent), func.count())
        .where(
            Message.customer_id == customer_id,
            Message.role == MessageRole.CUSTOMER,
            func.coalesce(Message.corrected_intent, Message.intent).is_not(None),
        )
        .group_by(func.coalesce(Message.corrected_intent, Message.intent))
        .order_by(func.count().desc())
        .limit(5)
    ).all()
    tendency = session.scalar(
        select(func.avg(Message.sentiment_score)).where(
            Message.customer_id == customer_id, Message.role == MessageRole.CUSTOMER
        )
    )
    csat = session.scalars(
        select(Survey.csat)
        .where(Survey.customer_id == customer_id, Survey.csat.is_not(None))
        .order_by(Survey.id)
    ).all()
    channels = session.scalars(
        select(Conversation.channel).where(Conversation.customer_id == customer_id).distinct()
    ).all()
    return {
        "top_intents": [intent for intent, _ in intents],
        "sentiment_tendency": round(float(tendency), 3) if tendency is not None else None,
        "csat_history": [int(v) for v in csat if v is not None],
        "channels": sorted(channels),
    }


def _action_calls(
    session: Session, conversation_id: str, names: dict[int, str]
) -> list[ActionCallView]:
    calls = session.scalars(
        select(ActionCall)
        .where(ActionCall.conversation_id == conversation_id)
        .order_by(ActionCall.id)
    ).all()
    return [
        ActionCallView(
            id=call.id,
            action=call.action,
            outcome=call.outcome,
            status_code=call.status_code,
            latency_ms=round(call.latency_ms, 1),
            error=call.error,
            created_at=call.created_at,
            message_id=call.message_id,
            looked_up_by=names.get(call.staff_id) if call.staff_id is not None else None,
        )
        for call in calls
    ]


def _lookup_allowed(spec: ActionSpec) -> bool:
    return not spec.writes and spec.name != VERIFY_ACTION


def _tier(customer: Customer) -> str | None:
    tier = (customer.attributes or {}).get("tier")
    return str(tier) if tier is not None else None
