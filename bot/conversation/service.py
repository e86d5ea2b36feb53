"""The chat loop: start a conversation, take a customer message, answer it, keep everything.

A customer message goes through the steps of bot/conversation/turn.py; this service runs them
and does what needs the database (admit, record) and the live events (announce).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

import numpy as np
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.actions.runner import ActionResult, unanswered
from bot.actions.runner import Outcome as ActionOutcome
from bot.actions.spec import ActionCatalog, ActionSpec
from bot.conversation.escalation import EscalationRules
from bot.conversation.forms import VERIFY_ACTION, ActionRequest
from bot.conversation.identity import CustomerIdentity, Identified, identify
from bot.conversation.policy import SMALL_TALK, DialogueState, Thresholds
from bot.conversation.questions import in_context, with_topic
from bot.conversation.redaction import profile_attributes, redact
from bot.conversation.spelling import Speller
from bot.conversation.states import BOT_SILENT, Status, move
from bot.conversation.turn import (
    ACTION_FAILED,
    HANDOFF,
    Heard,
    Outcome,
    Reading,
    TurnContext,
    admit,
    answered,
    conversation_changes,
    escalate,
    hear,
    not_allowed,
    on_topic,
    other_answers,
    question_records,
    respond,
    topic_question,
)
from bot.conversation.turn_writes import (
    CONVERSATIONS,
    CUSTOMERS,
    MESSAGES,
    ONE_STATEMENT_DIALECTS,
    TurnRows,
    WriteTurn,
    write_in_one_statement,
    write_in_statements,
)
from bot.errors import Forbidden, NotFound
from bot.live.events import STAFF_TOPIC, EventHub
from bot.messages import MessageRole, MessageView, StoredMessage
from bot.storage.models import (
    ActionCall,
    Conversation,
    Customer,
    Message,
    Staff,
    utcnow,
)
from finetune.reading import OOS_LABEL, MessageReader
from retrieval.inference import Batcher
from retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

# A turn reads and writes through plain table statements (bot.conversation.turn_writes): the
# ORM's unit of work and its per-statement bookkeeping cost about 3 ms a turn, a third of the
# model's forward pass.

# A chat turn's first read, one query: the conversation, what rules and answers read of its
# customer, and the id of a message stored earlier with the turn's client_message_id (NULL when
# there is none, or no id: "= NULL" is never true). Built once: building a statement and its
# cache key each turn cost more than running it.
CONVERSATION_FACTS = (
    select(
        CONVERSATIONS.c.id,
        CONVERSATIONS.c.customer_id,
        CONVERSATIONS.c.token_hash,
        CONVERSATIONS.c.status,
        CONVERSATIONS.c.slots,
        CONVERSATIONS.c.dialogue,
        CONVERSATIONS.c.assigned_staff_id,
        CUSTOMERS.c.external_id.label("customer_external_id"),
        CUSTOMERS.c.name.label("customer_name"),
        CUSTOMERS.c.email.label("customer_email"),
        CUSTOMERS.c.attributes.label("customer_attributes"),
        CUSTOMERS.c.churn_risk,
        CUSTOMERS.c.lifetime_value,
        CUSTOMERS.c.lifecycle_stage,
        CUSTOMERS.c.segment,
        MESSAGES.c.id.label("earlier_message_id"),
    )
    .join_from(CONVERSATIONS, CUSTOMERS, CUSTOMERS.c.id == CONVERSATIONS.c.customer_id)
    .outerjoin(
        MESSAGES,
        and_(
            MESSAGES.c.conversation_id == CONVERSATIONS.c.id,
            MESSAGES.c.client_message_id
            == bindparam("client_message_id", type_=MESSAGES.c.client_message_id.type),
        ),
    )
    .where(CONVERSATIONS.c.id == bindparam("conversation_id"))
)
MESSAGE_BY_ID = select(MESSAGES).where(MESSAGES.c.id == bindparam("message_id"))
REPLY_TO = select(MESSAGES).where(MESSAGES.c.reply_to_id == bindparam("message_id"))

# Seconds between two "the customer is typing" notices of one conversation.
TYPING_EVERY = 2.0
# Intents that are no topic to come back to.
NOT_A_TOPIC = SMALL_TALK | {"human_agent", OOS_LABEL}
# Where a conversation can end with the customer's question still open.
UNRESOLVED = frozenset({"not_sure", "out_of_scope", "offer_person", HANDOFF, ACTION_FAILED})
# How far down the ranking an intent's own entries (and a clarification's options) are looked for.
SEARCH_DEPTH = 50


@dataclass(frozen=True)
class ConversationFacts:
    """What a turn reads of its conversation and its customer (a row of CONVERSATION_FACTS)."""

    id: str
    customer_id: int
    token_hash: str
    status: str
    slots: dict[str, Any]
    dialogue: dict[str, Any] | None
    assigned_staff_id: int | None
    customer_external_id: str | None
    customer_name: str | None
    customer_email: str | None
    customer_attributes: dict[str, Any] | None
    churn_risk: float | None
    lifetime_value: float | None
    lifecycle_stage: str | None
    segment: str | None


def conversation_facts(
    database: Session | Connection, conversation_id: str, client_message_id: str | None = None
) -> tuple[ConversationFacts, int | None]:
    """The facts of a conversation and its customer, with the id of the message stored earlier
    with ``client_message_id`` (None when there is none): one query, CONVERSATION_FACTS.
    NotFound for a conversation that does not exist."""
    found = database.execute(
        CONVERSATION_FACTS,
        {"conversation_id": conversation_id, "client_message_id": client_message_id},
    ).one_or_none()
    if found is None:
        raise NotFound(f"conversation {conversation_id!r} does not exist")
    columns = dict(found._mapping)
    earlier_id = columns.pop("earlier_message_id")
    return ConversationFacts(**columns), earlier_id


class ActionCaller(Protocol):
    """Calls the company's API for an action (bot.actions.runner.ActionRunner)."""

    def run(
        self,
        spec: ActionSpec,
        slots: Mapping[str, str],
        customer_id: str | None,
        idempotency_key: str | None = None,
    ) -> ActionResult: ...


class ProfileRefresher(Protocol):
    """Recomputes customers' scores (bot.analytics.profiles.ProfileService)."""

    def refresh(self, customer_ids: list[int]) -> object: ...


@dataclass(frozen=True)
class StartedConversation:
    conversation_id: str
    customer_id: int
    customer_token: str


@dataclass(frozen=True)
class Turn:
    message: MessageView
    reply: MessageView | None  # None while a person has the conversation: the bot is silent
    # Time the turn waited for the company's API; the overload bound leaves it out.
    company_seconds: float = 0.0


@dataclass(frozen=True)
class Transcript:
    conversation_id: str
    status: str
    agent: str | None  # the person who has the conversation now
    messages: list[MessageView]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClientGone(Exception):
    """The customer's connection closed while their turn waited: it was dropped before the
    model read it, and nothing of it was stored (a client that comes back sends it again, with
    the same id)."""


class ChatService:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        retriever: Retriever,
        nlu: MessageReader | None,
        thresholds: Thresholds,
        rules: EscalationRules,
        max_message_chars: int,
        identity_secret: str | None,
        actions: ActionCatalog,
        runner: ActionCaller | None,
        profiles: ProfileRefresher,
        events: EventHub,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``nlu`` None: no NLU bundle, retrieval alone answers; ``identity_secret`` None:
        customer ids from the site are taken unsigned (and never given to the company's API);
        ``runner`` None: no company API, so actions answer that they cannot be used; ``clock``
        (seconds, monotonic) paces the typing notices. A chat turn uses ``engine``'s connections
        directly: its statements are plain table ones, and an ORM session's own bookkeeping
        cost more than they did."""
        self.engine = engine
        # SQLite has one writer: threads that wait for it inside SQLite poll with sleeps that
        # grow to 100 ms, and some lose again and again (p99 1.3 s for 50 customers on one
        # process). They queue on a lock instead. Servers take concurrent writes.
        self._one_writer: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self._writes_in_one_statement = engine.dialect.name in ONE_STATEMENT_DIALECTS
        # A turn's read needs no transaction (see _take_message). pysqlite opens none for a
        # SELECT, so on SQLite the read is one call as it is: there, switching the connection
        # to AUTOCOMMIT and back cost two PRAGMAs and a reset when it went back to the pool, a
        # twentieth of a lone customer's turn.
        self._read_in_autocommit = engine.dialect.name != "sqlite"
        self.sessions = sessions
        self.retriever = retriever
        self.nlu = nlu
        # Concurrent turns share the model's forward passes (retrieval.inference.Batcher).
        self._read_together = Batcher(self._read_many, on_pass=metrics.record_pass)
        self.thresholds = thresholds
        self.rules = rules
        self.max_message_chars = max_message_chars
        self.identity_secret = identity_secret
        self.actions = actions
        self.runner = runner
        self.profiles = profiles
        self.events = events
        self.clock = clock
        self.speller = Speller.of(retriever.knowledge_base)
        # When each conversation's last typing notice went out (by ``clock``).
        self._typing_noted: dict[str, float] = {}

    def start_conversation(
        self, identity: CustomerIdentity, channel: str = "web"
    ) -> StartedConversation:
        """A conversation for the customer a valid identity token names, or for a fresh
        anonymous customer (bot.conversation.identity). Unauthenticated for a token that is not
        valid, Rejected for one whose claims break the limits."""
        identified = identify(identity, self.identity_secret)
        token = secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            customer = self._customer_for(session, identified)
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

    def _customer_for(self, session: Session, identity: Identified) -> Customer:
        """The signed customer's profile, or a fresh one for an anonymous visitor: only a valid
        token reaches a known customer's profile."""
        customer = None
        if identity.signed:
            customer = session.scalar(
                select(Customer).where(Customer.external_id == identity.external_id)
            )
        if customer is None:
            customer = Customer(external_id=identity.external_id)
            session.add(customer)
            # Counters are then updated in SQL (count = count + 1), which needs the row to exist.
            session.flush()
        # What the site signed now is newer than what we had; an anonymous visitor's name and
        # e-mail go on their own fresh profile.
        if identity.name:
            customer.name = identity.name
        if identity.email:
            customer.email = identity.email
        if identity.attributes:
            # Kept: what rules and answers read; never a phone, an address or a birth date.
            merged = {**(customer.attributes or {}), **identity.attributes}
            customer.attributes = profile_attributes(merged)
        return customer

    def _authorised(
        self,
        database: Session | Connection,
        conversation_id: str,
        token: str,
        client_message_id: str | None = None,
    ) -> tuple[ConversationFacts, int | None]:
        """The conversation the token opens, with its customer's facts, and the id of the
        message stored earlier with ``client_message_id`` if there is one: one query for both,
        since a chat turn needs both first."""
        conversation, earlier_id = conversation_facts(database, conversation_id, client_message_id)
        if not hmac.compare_digest(conversation.token_hash, hash_token(token)):
            raise Forbidden("the customer token does not open this conversation")
        return conversation, earlier_id

    def check_access(self, conversation_id: str, token: str) -> None:
        with self.sessions() as session:
            self._authorised(session, conversation_id, token)

    def post_message(
        self,
        conversation_id: str,
        token: str,
        text: str,
        client_message_id: str | None = None,
        gone: Callable[[], bool] | None = None,
    ) -> Turn:
        """Store the customer's message and the bot's reply in one transaction and return both.

        ``gone`` says whether the client has left; asked once the turn has its thread, before
        the model reads the message, so that a turn that waited for a client who gave up does
        not spend a forward pass (ClientGone, nothing stored).

        A message resent with the same ``client_message_id`` returns the first turn again, also
        when the two arrive at once: the second to store it hits the unique constraint and
        answers with the turn the first stored.
        """
        text = admit(text, self.max_message_chars)
        try:
            return self._take_message(conversation_id, token, text, client_message_id, gone)
        except IntegrityError:
            if client_message_id is None:
                raise
            # The failed transaction is gone; a fresh one sees what the other request committed.
            with self.engine.connect() as connection:
                _, earlier_id = self._authorised(
                    connection, conversation_id, token, client_message_id
                )
                if earlier_id is None:
                    raise
                return self._turn_of(connection, earlier_id)

    def _take_message(
        self,
        conversation_id: str,
        token: str,
        text: str,
        client_message_id: str | None,
        gone: Callable[[], bool] | None,
    ) -> Turn:
        started = time.perf_counter()
        with self.engine.connect() as connection:
            # The read is one statement and needs no transaction: in autocommit it is one round
            # trip to the database where BEGIN, SELECT, COMMIT were three (a tenth of a lone
            # customer's turn on PostgreSQL), and nothing stays open while the turn answers (the
            # model's wait, the company's API). The writes get a transaction of their own.
            if self._read_in_autocommit:
                connection.execution_options(isolation_level="AUTOCOMMIT")
            conversation, earlier_id = self._authorised(
                connection, conversation_id, token, client_message_id
            )
            if earlier_id is not None:
                return self._turn_of(connection, earlier_id)
            connection.commit()  # ends SQLAlchemy's record of the read: nothing is open to send
            if gone is not None and gone():
                logger.info("a turn dropped: its client left before it was read")
                raise ClientGone("the connection closed before the message was read")
            context = turn_context(conversation, self.identity_secret)
            heard = hear(text, context, self.speller)
            reading, *others = self.read_questions(heard, context)
            outcome = respond(
                heard,
                reading,
                context,
                self.thresholds,
                self.retriever.knowledge_base,
                self.actions,
            )
            outcome = self.act(outcome, context)
            outcome = other_answers(outcome, heard, others, context, self.thresholds)
            outcome = escalate(outcome, heard, reading, context, self.rules)
            with self._writing(connection) as write:
                turn = record(
                    connection, write, context, heard, reading, outcome, client_message_id, started
                )
        self.announce(context, outcome)
        return turn

    @contextmanager
    def _writing(self, connection: Connection) -> Iterator[WriteTurn]:
        """How a turn is written on ``connection``, still in autocommit from the turn's read,
        within what it needs (bot.conversation.turn_writes): nothing for the one statement,
        which is a transaction alone; a transaction, and on SQLite the one writer's lock, for
        the statements."""
        if self._writes_in_one_statement:
            yield write_in_one_statement
            return
        if self._read_in_autocommit:
            connection.execution_options(isolation_level=connection.default_isolation_level)
        with self._one_writer, connection.begin():
            yield write_in_statements

    def read_questions(self, heard: Heard, context: TurnContext) -> list[Reading]:
        """Each question of the message read on its own (all in one pass, shared with the
        other turns waiting for the model); a lone follow-up that cannot be answered alone is
        read again after the conversation's topic."""
        readings = self._read_together.call_many(in_context(list(heard.questions)))
        topic = topic_question(
            heard, readings[0], context, self.thresholds, self.retriever.knowledge_base
        )
        if topic is not None:
            after_topic = self.read(with_topic(topic, readings[0].text))
            readings[0] = on_topic(readings[0], after_topic, context, self.thresholds)
        return readings

    def read(self, text: str) -> Reading:
        """The model's reading and the retrieval hits: one forward pass on the inference thread,
        shared with the other turns waiting for it."""
        return self._read_together(text)

    def _read_many(self, texts: list[str]) -> list[Reading]:
        if self.nlu is None:
            return [Reading(None, self.retriever.search(t, k=SEARCH_DEPTH), t) for t in texts]
        vectors, predictions = zip(*self.nlu.read_many(texts), strict=True)
        hits = self.retriever.search_vectors(np.stack(vectors), SEARCH_DEPTH)
        return [
            Reading(prediction, found, text)
            for text, prediction, found in zip(texts, predictions, hits, strict=True)
        ]

    def act(self, outcome: Outcome, context: TurnContext) -> Outcome:
        """Run the action the turn asked for against the company's API, on the runner's own
        event loop (never the model's thread), within the action's time budget. The API is
        given the customer's id only as the site vouched for it or as the customer proved it
        (an order number and its e-mail address), so nothing of one customer's is said to
        another; a proof that does not match reads as "not found"."""
        request = outcome.action
        if request is None:
            return outcome
        if self.runner is None:
            return answered(outcome, not_allowed(request))
        customer_id = context.verified_customer_id
        if customer_id is None:
            check, customer_id, unproven = self._proven(request)
            outcome = replace(outcome, proof_check=check)
            if unproven is not None:
                return answered(outcome, unproven)
            outcome = replace(
                outcome, dialogue=replace(outcome.dialogue, proven_customer_id=customer_id)
            )
        # The same request in the same conversation is the same change: a resend, or a retry
        # after a lost answer, runs once at the company's API.
        key = hashlib.sha256(
            f"{context.conversation_id}:{request.spec.name}:{sorted(request.slots.items())}".encode()
        ).hexdigest()[:32]
        result = self.runner.run(
            request.spec,
            request.slots,
            customer_id=customer_id,
            idempotency_key=key if request.spec.writes else None,
        )
        return answered(outcome, result)

    def _proven(
        self, request: ActionRequest
    ) -> tuple[ActionResult | None, str | None, ActionResult | None]:
        """The check of the customer's proof (if one was made), the customer id the company's
        API gives for it, or the result to answer with instead (not allowed without a way to
        prove it, not found for a proof that does not match, failed when the API is away)."""
        verify = self.actions.get(VERIFY_ACTION)
        if verify is None or self.runner is None or not request.proof:
            return None, None, not_allowed(request)
        check = self.runner.run(verify, request.proof, customer_id=None)
        customer_id = check.data.get("customer_id") if check.outcome == "found" else None
        if isinstance(customer_id, str) and customer_id:
            return check, customer_id, None
        # A proof that does not match reads as "not found": nothing tells whose order it is.
        outcome = ActionOutcome.FAILED if check.outcome == "failed" else ActionOutcome.NOT_FOUND
        unproven = unanswered(request.spec, outcome, request.slots, error=f"proof: {check.outcome}")
        return check, None, unproven

    def announce(self, context: TurnContext, outcome: Outcome) -> None:
        """Tell the consoles (and, for a new status, the customer's sockets) what the turn
        changed: a message for the people who have the conversation, or an escalation."""
        if outcome.handoff is not None:
            self.events.announce(context.conversation_id, "escalated", Status.WAITING)
        elif context.bot_silent:
            self.events.announce(context.conversation_id, "message")

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
        now = self.clock()
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

    @staticmethod
    def _turn_of(database: Session | Connection, message_id: int) -> Turn:
        """A stored customer message and its reply, or None for the reply if the bot was silent
        then (a person was waited for or had the conversation)."""
        message = database.execute(MESSAGE_BY_ID, {"message_id": message_id}).one()
        reply = database.execute(REPLY_TO, {"message_id": message_id}).one_or_none()
        return Turn(
            MessageView.of(cast(StoredMessage, message)),
            None if reply is None else MessageView.of(cast(StoredMessage, reply)),
        )

    def transcript(self, conversation_id: str, token: str) -> Transcript:
        with self.sessions() as session:
            conversation, _ = self._authorised(session, conversation_id, token)
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


def turn_context(conversation: ConversationFacts, identity_secret: str | None) -> TurnContext:
    # A customer gets an external id only from a valid identity token, which needs the secret;
    # without one, an id kept from before signed tokens is nobody's word, and the name and
    # e-mail are an anonymous visitor's own.
    vouched = conversation.customer_external_id if identity_secret is not None else None
    dialogue = DialogueState.of(conversation.dialogue)
    return TurnContext(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        status=Status(conversation.status),
        slots=conversation.slots,
        dialogue=dialogue,
        customer_name=conversation.customer_name,
        customer_email=conversation.customer_email,
        facts=profile_facts(conversation),
        verified_customer_id=vouched or dialogue.proven_customer_id,
    )


def record(
    database: Connection,
    write: WriteTurn,
    context: TurnContext,
    heard: Heard,
    reading: Reading,
    outcome: Outcome,
    client_message_id: str | None,
    started: float,
) -> Turn:
    """Write the turn with ``write`` (bot.conversation.turn_writes): the message with its
    reading, the reply, the calls to the company's API, the escalation, the conversation's and
    the customer's changes."""
    now = utcnow()
    message = MessageView(
        id=0,
        role=MessageRole.CUSTOMER,
        text=heard.redacted,
        created_at=now,
        client_message_id=client_message_id,
        questions=question_records(heard, reading, outcome),
        **reading.columns(),
    )
    reply: MessageView | None = None
    if outcome.reply is not None:
        reply = MessageView(
            id=0,
            role=MessageRole.BOT,
            # Answers can carry slot values (an e-mail address); logged redacted too.
            text=redact(outcome.reply.text),
            created_at=now,
            entry_id=outcome.reply.entry_id,
            score=outcome.reply.score,
            decision=outcome.reply.decision,
            decision_reason=outcome.reply.reason,
            latency_ms=1000 * (time.perf_counter() - started),
        )
    calls = [call for call in (outcome.proof_check, outcome.result) if call is not None]
    handoff = outcome.handoff
    rows = TurnRows(
        conversation_id=context.conversation_id,
        customer_id=context.customer_id,
        message=message.columns(),
        reply=None if reply is None else reply.columns(),
        calls=tuple(
            {**call_columns(context.conversation_id, call), "created_at": now} for call in calls
        ),
        escalation=None
        if handoff is None
        else {
            "conversation_id": context.conversation_id,
            "created_at": now,
            "queue": handoff.queue,
            "priority": handoff.priority,
            "reason": handoff.reason,
            "rules": [dict(firing) for firing in handoff.firings],
        },
        conversation=conversation_changes(context, heard, outcome, now),
        customer={"last_seen_at": now, **heard.profile_changes},
    )
    message_id, reply_id = write(database, rows)
    message = replace(message, id=message_id)
    if reply is not None and outcome.reply is not None:
        # The customer sees the unredacted answer (their own e-mail), the log keeps the redacted.
        reply = replace(reply, id=cast(int, reply_id), text=outcome.reply.text)
    return Turn(message, reply, sum(call.latency_ms for call in calls) / 1000)


def record_call(
    database: Session | Connection,
    conversation_id: str,
    call: ActionResult,
    *,
    staff_id: int,
) -> None:
    """Keep a person's lookup in the company's API (``staff_id``); the bot's calls are kept
    with the turn (record). Never the data it answered, which may be personal."""
    database.execute(
        insert(ActionCall).values(**call_columns(conversation_id, call), staff_id=staff_id)
    )


def call_columns(conversation_id: str, call: ActionResult) -> dict[str, Any]:
    """The action_calls columns of one call to the company's API: what, how it ended and how
    long it took."""
    return {
        "conversation_id": conversation_id,
        "action": call.action,
        "outcome": call.outcome,
        "status_code": call.status_code,
        "latency_ms": call.latency_ms,
        "error": call.error,
    }


def profile_facts(conversation: ConversationFacts) -> dict[str, Any]:
    """What rules may ask of the conversation's customer: the computed scores, overridden by
    whatever the company's site says itself (its own churn model or value, say)."""
    computed = {
        "churn_risk": conversation.churn_risk,
        "lifetime_value": conversation.lifetime_value,
        "lifecycle_stage": conversation.lifecycle_stage,
        "segment": conversation.segment,
    }
    attributes = conversation.customer_attributes or {}
    return {**{k: v for k, v in computed.items() if v is not None}, **attributes}
