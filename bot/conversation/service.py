"""The chat loop: start a conversation, take a customer message, answer it, keep everything."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bot.analytics.profiles import ProfileService
from bot.conversation.escalation import PRIORITIES, EscalationRules, Firing, Rule, Situation
from bot.conversation.policy import (
    ANSWERING,
    SMALL_TALK,
    Action,
    Decision,
    DialogueState,
    Thresholds,
    decide,
    is_greeting,
    next_state,
    observed,
)
from bot.conversation.redaction import redact
from bot.conversation.slots import extract_slots, is_slot_only
from bot.conversation.states import BOT_SILENT, Status, move
from bot.errors import Forbidden, NotFound, Rejected
from bot.live.events import STAFF_TOPIC, EventHub
from bot.messages import MessageRole, MessageView
from bot.storage.models import Conversation, Customer, Escalation, Message, Staff, utcnow
from finetune.reading import OOS_LABEL, MessageReader, Prediction
from retrieval.inference import run_inference
from retrieval.retriever import EntryHit, Retriever

NOT_SURE_REPLY = "I'm not sure I understood that. Could you put it another way?"
OUT_OF_SCOPE_REPLY = (
    "I'm sorry, that's not something I can help with here. I can help with orders, deliveries, "
    "returns, payments and your account."
)
OFFER_PERSON_REPLY = (
    "I'm sorry I couldn't find an answer to that. Would you like me to connect you with a person?"
)
CLARIFY_REPLY = "Just to be sure I help with the right thing, do you mean:\n1. {0}\n2. {1}"
SLOT_NOTED_REPLY = "Thanks, I've noted {detail}. What can I help you with?"
HANDOFF_REPLY = (
    "I'm passing you to one of our team now. They'll see everything you've written here, "
    "so you won't need to repeat yourself."
)
HANDOFF = "handoff"
# A turn writes through plain table statements: the ORM's unit of work and its per-statement
# bookkeeping cost about 3 ms a turn, a third of the model's forward pass.
MESSAGES = cast(Table, Message.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
CUSTOMERS = cast(Table, Customer.__table__)
INSERT_MESSAGE = MESSAGES.insert().returning(MESSAGES.c.id)

# Seconds between two "the customer is typing" notices of one conversation.
TYPING_EVERY = 2.0
OPEN_TOPIC_REPLY = ' Last time you asked "{topic}". Is that sorted now?'
# Intents that are no topic to come back to.
NOT_A_TOPIC = SMALL_TALK | {"human_agent", OOS_LABEL}
# Where a conversation can end with the customer's question still open.
UNRESOLVED = frozenset({"not_sure", "out_of_scope", "offer_person", "handoff"})
# How far down the ranking an intent's own entries (and a clarification's options) are looked for.
SEARCH_DEPTH = 50


@dataclass(frozen=True)
class CustomerIdentity:
    """Who the company's site says the customer is; all optional (anonymous visitors)."""

    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # HMAC-SHA256 of external_id with the company's identity secret, computed by its server.
    signature: str | None = None


def sign_customer_id(external_id: str, secret: str) -> str:
    """What the company's server sends beside a customer id when identity checks are on."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StartedConversation:
    conversation_id: str
    customer_id: int
    customer_token: str


@dataclass(frozen=True)
class Turn:
    message: MessageView
    reply: MessageView | None  # None while a person has the conversation: the bot is silent


@dataclass(frozen=True)
class Transcript:
    conversation_id: str
    status: str
    agent: str | None  # the person who has the conversation now
    messages: list[MessageView]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Reading:
    """What the bot makes of one message: the model's prediction (None without an NLU bundle)
    and the knowledge-base entries closest to it, best first."""

    prediction: Prediction | None
    hits: list[EntryHit]


class ChatService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        retriever: Retriever,
        answer_threshold: float,
        max_message_chars: int,
        nlu: MessageReader | None = None,
        intent_threshold: float = 0.6,
        rules: EscalationRules | None = None,
        identity_secret: str | None = None,
        profiles: ProfileService | None = None,
        events: EventHub | None = None,
    ) -> None:
        self.sessions = sessions
        self.events = events or EventHub()
        # When each conversation's last typing notice went out (time.monotonic()).
        self._typing_noted: dict[str, float] = {}
        self.retriever = retriever
        self.nlu = nlu
        self.intent_threshold = intent_threshold
        self.rules = rules or EscalationRules(())
        self.identity_secret = identity_secret
        self.profiles = profiles
        self.answer_threshold = answer_threshold
        self.max_message_chars = max_message_chars

    def start_conversation(
        self, identity: CustomerIdentity, channel: str = "web"
    ) -> StartedConversation:
        self._check_identity(identity)
        token = secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            customer = self._customer_for(session, identity)
            topic = self._open_topic(session, customer.id)
            conversation = Conversation(
                id=uuid.uuid4().hex,
                customer=customer,
                token_hash=hash_token(token),
                channel=channel,
                dialogue=DialogueState(open_topic=topic).stored() if topic else None,
            )
            customer.conversation_count = Customer.conversation_count + 1
            customer.last_seen_at = utcnow()
            session.add(conversation)
            session.flush()
            started = StartedConversation(conversation.id, customer.id, token)
        if self.profiles is not None:
            # Churn risk and value as of now, for the escalation rules of this conversation.
            self.profiles.refresh([started.customer_id])
        return started

    @staticmethod
    def _open_topic(session: Session, customer_id: int) -> str | None:
        """The knowledge-base entry of what the customer's last conversation left unanswered (it
        ended waiting for a person, or with the bot unable to answer), if any."""
        previous = session.scalar(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.started_at.desc())
            .limit(1)
        )
        if previous is None:
            return None
        last_bot = session.scalar(
            select(Message.decision)
            .where(Message.conversation_id == previous.id, Message.role == MessageRole.BOT)
            .order_by(Message.id.desc())
            .limit(1)
        )
        if previous.status not in BOT_SILENT and last_bot not in UNRESOLVED:
            return None
        asked = session.execute(
            select(func.coalesce(Message.corrected_intent, Message.intent), Message.id)
            .where(Message.conversation_id == previous.id, Message.role == MessageRole.CUSTOMER)
            .order_by(Message.id.desc())
        ).all()
        for intent, message_id in asked:
            if intent and intent not in NOT_A_TOPIC:
                # The entry nearest to what they asked names the topic in the customer's words.
                return session.scalar(
                    select(Message.entry_id).where(Message.reply_to_id == message_id)
                )
        return None

    def _check_identity(self, identity: CustomerIdentity) -> None:
        """With an identity secret, a customer id counts only with its signature: otherwise
        anyone could open conversations as another customer and write to their profile."""
        if self.identity_secret is None or identity.external_id is None:
            return
        expected = sign_customer_id(identity.external_id, self.identity_secret)
        if identity.signature is None or not hmac.compare_digest(identity.signature, expected):
            raise Forbidden(
                "the customer id needs its signature: HMAC-SHA256 of the id with the identity "
                "secret, in hex, computed on the company's server"
            )

    def _customer_for(self, session: Session, identity: CustomerIdentity) -> Customer:
        customer = None
        if identity.external_id is not None:
            customer = session.scalar(
                select(Customer).where(Customer.external_id == identity.external_id)
            )
        if customer is None:
            customer = Customer(external_id=identity.external_id)
            session.add(customer)
            # Counters are then updated in SQL (count = count + 1), which needs the row to exist.
            session.flush()
        # What the site tells us now is newer than what we had.
        if identity.name:
            customer.name = identity.name
        if identity.email:
            customer.email = identity.email
        if identity.attributes:
            customer.attributes = {**(customer.attributes or {}), **identity.attributes}
        return customer

    def _authorised(self, session: Session, conversation_id: str, token: str) -> Conversation:
        conversation = session.get(
            Conversation, conversation_id, options=[joinedload(Conversation.customer)]
        )
        if conversation is None:
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        if not hmac.compare_digest(conversation.token_hash, hash_token(token)):
            raise Forbidden("the customer token does not open this conversation")
        return conversation

    def check_access(self, conversation_id: str, token: str) -> None:
        with self.sessions() as session:
            self._authorised(session, conversation_id, token)

    def _validated(self, text: str) -> str:
        stripped = text.strip()
        if not stripped:
            raise Rejected("the message is empty")
        if len(stripped) > self.max_message_chars:
            raise Rejected(
                f"the message has {len(stripped)} characters; at most "
                f"{self.max_message_chars} are allowed"
            )
        return stripped

    def post_message(
        self, conversation_id: str, token: str, text: str, client_message_id: str | None = None
    ) -> Turn:
        """Store the customer's message and the bot's reply in one transaction and return both.

        A message resent with the same ``client_message_id`` returns the first answer again.
        """
        started = time.perf_counter()
        text = self._validated(text)
        with self.sessions.begin() as session:
            conversation = self._authorised(session, conversation_id, token)
            if client_message_id is not None:
                earlier = self._earlier_turn(session, conversation_id, client_message_id)
                if earlier is not None:
                    return earlier
            customer = conversation.customer
            found = extract_slots(text)
            slots = {**conversation.slots, **_only(found, "order_id")}
            profile = _profile_changes(customer, found)
            known = {
                "customer_name": profile.get("name", customer.name),
                "email": profile.get("email", customer.email),
                "order_id": slots.get("order_id"),
            }
            stored_text = redact(text)

            reading = self.read(stored_text)
            prediction = reading.prediction
            state = DialogueState.of(conversation.dialogue)
            sentiment = prediction.sentiment if prediction else None

            now = utcnow()
            message = MessageView(
                id=0,
                role=MessageRole.CUSTOMER,
                text=stored_text,
                created_at=now,
                client_message_id=client_message_id,
                **_prediction_columns(prediction),
            )
            message = replace(message, id=self._insert(session, conversation, message))
            conversation_values: dict[str, Any] = {"last_message_at": now}
            if slots != conversation.slots:
                conversation_values["slots"] = slots

            reply: MessageView | None = None
            reply_text = ""
            # What the console and the customer's other sockets hear once this is committed.
            change = "message" if conversation.status in BOT_SILENT else None
            if conversation.status in BOT_SILENT:
                # A person is waited for or has the conversation: the message is for them.
                conversation_values["dialogue"] = observed(state, sentiment).stored()
            else:
                if conversation.status == Status.CLOSED:
                    conversation_values["status"] = move(conversation.status, Status.BOT)
                decision = decide(
                    text,
                    prediction,
                    reading.hits,
                    state,
                    Thresholds(intent=self.intent_threshold, answer=self.answer_threshold),
                    slot_only=is_slot_only(text, found),
                )
                after = next_state(state, decision, sentiment)
                conversation_values["dialogue"] = after.stored()
                facts = profile_facts(customer)
                reply_text = _reply_text(decision, known, found, facts)
                action, reason = decision.action.value, decision.reason
                open_topic = state.open_topic
                if (
                    is_greeting(decision)
                    and open_topic is not None
                    and open_topic in self.retriever.knowledge_base
                ):
                    topic = self.retriever.knowledge_base[open_topic].questions[0]
                    reply_text += OPEN_TOPIC_REPLY.format(topic=topic)
                    reason += f"; reminded of the open topic {open_topic}"
                fired = self.rules.fire(
                    Situation(
                        text=text,
                        intent=prediction.intent if prediction else None,
                        sentiment=sentiment,
                        accepted_person=decision.accepted_person,
                        negative_streak=after.negative_streak,
                        fallbacks=after.fallbacks,
                        profile=facts,
                    )
                )
                if fired:
                    reply_text, action = HANDOFF_REPLY, HANDOFF
                    reason = self._escalate(
                        session, conversation, facts, message.id, fired, conversation_values
                    )
                    change = "escalated"
                reply = MessageView(
                    id=0,
                    role=MessageRole.BOT,
                    # Answers can carry slot values (an e-mail address); logged redacted too.
                    text=redact(reply_text),
                    created_at=now,
                    entry_id=decision.entry.id if decision.entry else None,
                    score=decision.score,
                    decision=action,
                    decision_reason=reason,
                    latency_ms=1000 * (time.perf_counter() - started),
                )
                reply = replace(
                    reply, id=self._insert(session, conversation, reply, reply_to_id=message.id)
                )
            session.execute(
                CONVERSATIONS.update()
                .where(CONVERSATIONS.c.id == conversation.id)
                .values(**conversation_values)
            )
            session.execute(
                CUSTOMERS.update()
                .where(CUSTOMERS.c.id == customer.id)
                .values(last_seen_at=now, message_count=CUSTOMERS.c.message_count + 1, **profile)
            )
        if change is not None:
            self.events.announce(
                conversation_id, change, Status.WAITING if change == "escalated" else None
            )
        # The customer sees the unredacted answer (their own e-mail), the log keeps the redacted.
        return Turn(message, replace(reply, text=reply_text) if reply is not None else None)

    def _escalate(
        self,
        session: Session,
        conversation: Conversation,
        facts: dict[str, Any],
        message_id: int,
        fired: list[tuple[Rule, Firing]],
        conversation_values: dict[str, Any],
    ) -> str:
        """Hand the conversation to people; the decision's reason, naming every rule that fired."""
        top = max((rule for rule, _ in fired), key=lambda rule: PRIORITIES[rule.priority])
        conversation_values.update(
            status=move(conversation.status, Status.WAITING),
            queue=top.queue,
            priority=PRIORITIES[top.priority],
            high_value=self.rules.is_high_value(facts),
            waiting_since=utcnow(),
        )
        session.execute(
            insert(Escalation).values(
                conversation_id=conversation.id,
                message_id=message_id,
                queue=top.queue,
                priority=PRIORITIES[top.priority],
                reason="; ".join(rule.reason for rule, _ in fired),
                rules=[{"rule": firing.rule, "why": firing.why} for _, firing in fired],
            )
        )
        return "escalated: " + "; ".join(f"{f.rule} ({f.why})" for _, f in fired)

    def end(self, conversation_id: str, token: str) -> None:
        """The customer ends the conversation: it leaves the people's queue, and the consoles
        and the customer's sockets hear that it is closed. Ending it again changes nothing."""
        with self.sessions.begin() as session:
            self._authorised(session, conversation_id, token)
            # Locked: a person taking it at this moment must not be overwritten half-way.
            conversation = session.get(Conversation, conversation_id, with_for_update=True)
            assert conversation is not None
            if conversation.status == Status.CLOSED:
                return
            conversation.status = move(conversation.status, Status.CLOSED)
            conversation.closed_at = utcnow()
            conversation.leave_queue()
        self.events.announce(conversation_id, "closed", Status.CLOSED)

    def customer_typing(self, conversation_id: str) -> None:
        """Tell the consoles the customer is writing, when people are in the conversation (the
        socket that calls this has checked the token). At most one notice every few seconds
        per conversation, however fast the client sends them."""
        now = time.monotonic()
        if now - self._typing_noted.get(conversation_id, -TYPING_EVERY) < TYPING_EVERY:
            return
        with self.sessions() as session:
            status = session.scalar(
                select(Conversation.status).where(Conversation.id == conversation_id)
            )
        if status not in BOT_SILENT:
            return
        if len(self._typing_noted) > 10_000:  # forget conversations long quiet
            self._typing_noted = {
                key: at for key, at in self._typing_noted.items() if now - at < TYPING_EVERY
            }
        self._typing_noted[conversation_id] = now
        self.events.publish(
            STAFF_TOPIC, {"type": "typing", "conversation_id": conversation_id, "who": "customer"}
        )

    def read(self, text: str) -> Reading:
        """The model's reading and the retrieval hits: one forward pass, on the inference thread."""

        def work() -> Reading:
            if self.nlu is None:
                return Reading(None, self.retriever.search(text, k=SEARCH_DEPTH))
            vector, prediction = self.nlu.read(text)
            return Reading(prediction, self.retriever.search_vector(vector, SEARCH_DEPTH))

        return run_inference(work)

    @staticmethod
    def _insert(
        session: Session,
        conversation: Conversation,
        view: MessageView,
        reply_to_id: int | None = None,
    ) -> int:
        values = {
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "reply_to_id": reply_to_id,
            **view.columns(),
        }
        return int(session.execute(INSERT_MESSAGE, values).scalar_one())

    def _earlier_turn(
        self, session: Session, conversation_id: str, client_message_id: str
    ) -> Turn | None:
        message = session.scalar(
            select(Message).where(
                Message.conversation_id == conversation_id,
                Message.client_message_id == client_message_id,
            )
        )
        if message is None:
            return None
        reply = session.scalar(select(Message).where(Message.reply_to_id == message.id))
        if reply is None:
            return None
        return Turn(MessageView.of(message), MessageView.of(reply))

    def transcript(self, conversation_id: str, token: str) -> Transcript:
        with self.sessions() as session:
            conversation = self._authorised(session, conversation_id, token)
            rows = session.execute(
                select(Message, Staff.name)
                .outerjoin(Staff, Staff.id == Message.staff_id)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            ).all()
            agent = None
            if conversation.status == Status.WITH_AGENT and conversation.assigned_staff_id:
                agent = session.scalar(
                    select(Staff.name).where(Staff.id == conversation.assigned_staff_id)
                )
            return Transcript(
                conversation.id,
                conversation.status,
                agent,
                [MessageView.of(message, author) for message, author in rows],
            )


def _reply_text(
    decision: Decision,
    known: dict[str, str | None],
    found: dict[str, str],
    profile: dict[str, Any],
) -> str:
    if decision.action in ANSWERING:
        assert decision.entry is not None
        return decision.entry.render(known, profile)
    if decision.action is Action.CLARIFY:
        return CLARIFY_REPLY.format(*(entry.questions[0] for entry in decision.options))
    if decision.action is Action.SLOT_NOTED:
        detail = f"order {found['order_id']}" if "order_id" in found else "that"
        return SLOT_NOTED_REPLY.format(detail=detail)
    if decision.action is Action.OUT_OF_SCOPE:
        return OUT_OF_SCOPE_REPLY
    if decision.action is Action.OFFER_PERSON:
        return OFFER_PERSON_REPLY
    return NOT_SURE_REPLY


def profile_facts(customer: Customer) -> dict[str, Any]:
    """What rules may ask of a customer: the computed scores, overridden by whatever the
    company's site says itself (its own churn model or value, say)."""
    computed = {
        "churn_risk": customer.churn_risk,
        "lifetime_value": customer.lifetime_value,
        "lifecycle_stage": customer.lifecycle_stage,
        "segment": customer.segment,
    }
    return {**{k: v for k, v in computed.items() if v is not None}, **(customer.attributes or {})}


def _prediction_columns(prediction: Prediction | None) -> dict[str, Any]:
    if prediction is None:
        return {}
    return {
        "intent": prediction.intent,
        "intent_confidence": prediction.intent_confidence,
        "out_of_scope": prediction.out_of_scope,
        "sentiment": prediction.sentiment,
        "sentiment_score": prediction.sentiment_score,
    }


def _only(values: dict[str, str], *names: str) -> dict[str, str]:
    return {name: values[name] for name in names if name in values}


def _profile_changes(customer: Customer, found: dict[str, str]) -> dict[str, str]:
    """Profile fields to update from what the customer just said: a new e-mail address always,
    a name only if we had none (the site's own record of the name wins)."""
    changes = {}
    if "email" in found and found["email"] != customer.email:
        changes["email"] = found["email"]
    if "customer_name" in found and not customer.name:
        changes["name"] = found["customer_name"]
    return changes
