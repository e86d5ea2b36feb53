"""Suggested replies for the person who has a conversation: the knowledge base's best answers to
the customer's last message, worded as the bot would word them (slots filled, or the fallback),
and what became of each when the person replied: the one the reply started from, used as is or
edited, and the others shown beside the reply box, ignored. Per entry, those counts show which
answers people keep rewriting or passing over: the content that needs work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from bot.conversation.service import ChatService, conversation_facts, turn_context
from bot.conversation.turn import hear
from bot.errors import Conflict, NotFound, Rejected
from bot.messages import MessageRole, MessageView
from bot.storage.models import Conversation, Message, ReplySuggestion, utcnow
from bot.support.accounts import StaffMember
from bot.support.service import SupportService
from retrieval.retriever import EntryHit

# How many suggestions a person is shown.
SUGGESTIONS = 3


class SuggestionOutcome(StrEnum):
    """What became of a suggestion shown when a person replied."""

    USED = "used"  # the reply is the suggestion as it was
    EDITED = "edited"  # the reply started from the suggestion and was changed
    IGNORED = "ignored"  # shown beside the reply box, and the reply did not start from it


class StartedFrom(StrEnum):
    """What the console says a reply started from."""

    NONE = "none"
    USED = "used"
    EDITED = "edited"


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    question: str  # the entry's first question, which names it
    answer: str  # as the bot would send it: slots filled, or the entry's fallback
    score: float  # the retriever's cosine similarity, -1 to 1


@dataclass(frozen=True)
class Suggestions:
    conversation_id: str
    message_id: int  # the customer message they answer (the latest)
    message_text: str  # as stored: redacted
    suggestions: list[Suggestion]  # best first


@dataclass(frozen=True)
class SuggestionUse:
    """What a reply started from, as the console says: the customer message the suggestions
    were shown for, the entries on screen, and the one the reply started from (None: none),
    which counts as shown even when it was picked from an earlier message's suggestions."""

    message_id: int
    shown: tuple[str, ...]
    entry_id: str | None
    started_from: StartedFrom

    def outcomes(self) -> dict[str, SuggestionOutcome]:
        """Each entry shown, with what became of it."""
        outcomes = dict.fromkeys(self.shown, SuggestionOutcome.IGNORED)
        if self.entry_id is not None and self.started_from is not StartedFrom.NONE:
            outcomes[self.entry_id] = SuggestionOutcome(self.started_from.value)
        return outcomes


@dataclass(frozen=True)
class EntryUsage:
    entry_id: str
    question: str | None  # None when the entry is no longer in the knowledge base
    used: int
    edited: int
    ignored: int


@dataclass(frozen=True)
class UsageReport:
    since: datetime
    until: datetime
    entries: list[EntryUsage]  # the most edited or ignored first


class SuggestionService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        chat: ChatService,
        support: SupportService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``chat`` reads the message and words the answers exactly as it does for the bot;
        ``support`` sends the reply; ``clock`` is "now", the end of the usage report's window."""
        self.sessions = sessions
        self.chat = chat
        self.support = support
        self.clock = clock

    def suggest(self, member: StaffMember, conversation_id: str) -> Suggestions:
        """The best knowledge-base answers to the customer's last message, read again as the
        bot read it, with the slots the conversation and the profile know now. NotFound for an
        unknown conversation, Forbidden for one the member does not have, Conflict when the
        customer has written nothing yet."""
        with self.sessions() as session:
            conversation = _conversation(session, conversation_id)
            SupportService.must_hold(conversation, member)
            message = _last_customer_message(session, conversation_id)
            facts, _ = conversation_facts(session, conversation_id)
            context = turn_context(facts, self.chat.identity_secret)
        if message is None:
            raise Conflict("the customer has written nothing yet: there is nothing to answer")
        # The stored text is redacted; what it hid (an e-mail address) is in the profile by now.
        heard = hear(message.text, context, self.chat.speller)
        readings = self.chat.read_questions(heard, context)
        best = _best_entries([hit for reading in readings for hit in reading.hits])
        return Suggestions(
            conversation_id,
            message.id,
            message.text,
            [
                Suggestion(
                    hit.entry.id,
                    hit.entry.questions[0],
                    hit.entry.render(dict(heard.known), dict(context.facts)),
                    round(hit.score, 3),
                )
                for hit in best
            ],
        )

    def reply(
        self, member: StaffMember, conversation_id: str, text: str, use: SuggestionUse
    ) -> MessageView:
        """The person's reply, sent as ``SupportService.reply`` sends it, and in the same
        transaction what became of each suggestion shown. NotFound and Forbidden as for the
        reply itself, then Rejected when ``use`` names a message that is not one of this
        conversation's customer messages, or an entry the knowledge base does not hold."""
        with self.sessions() as session:
            SupportService.must_hold(_conversation(session, conversation_id), member)
            message = session.get(Message, use.message_id)
        knowledge_base = self.chat.retriever.knowledge_base
        unknown = [entry for entry in use.outcomes() if entry not in knowledge_base]
        if unknown:
            raise Rejected(f"no knowledge-base entry {', '.join(map(repr, unknown))}")
        if (
            message is None
            or message.conversation_id != conversation_id
            or message.role != MessageRole.CUSTOMER
        ):
            raise Rejected(
                f"message {use.message_id} is not a customer message of this conversation"
            )

        def record(session: Session, reply_id: int) -> None:
            session.execute(
                insert(ReplySuggestion),
                [
                    {
                        "conversation_id": conversation_id,
                        "message_id": use.message_id,
                        "reply_id": reply_id,
                        "entry_id": entry_id,
                        "staff_id": member.id,
                        "outcome": outcome.value,
                    }
                    for entry_id, outcome in use.outcomes().items()
                ],
            )

        return self.support.reply(member, conversation_id, text, alongside=record)

    def usage(self, days: int) -> UsageReport:
        """Per entry, over the ``days`` up to now, how often its suggestion was used as is,
        edited or ignored: the most edited or ignored first."""
        until = self.clock()
        since = until - timedelta(days=days)
        counts = {
            outcome: func.sum(case((ReplySuggestion.outcome == outcome.value, 1), else_=0))
            for outcome in SuggestionOutcome
        }
        with self.sessions() as session:
            rows = session.execute(
                select(ReplySuggestion.entry_id, *counts.values())
                .where(ReplySuggestion.created_at >= since, ReplySuggestion.created_at < until)
                .group_by(ReplySuggestion.entry_id)
            ).all()
        knowledge_base = self.chat.retriever.knowledge_base
        entries = [
            EntryUsage(
                entry_id,
                knowledge_base[entry_id].questions[0] if entry_id in knowledge_base else None,
                int(used),
                int(edited),
                int(ignored),
            )
            for entry_id, used, edited, ignored in rows
        ]
        entries.sort(key=lambda e: (-(e.edited + e.ignored), e.used, e.entry_id))
        return UsageReport(since, until, entries)


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(
        Conversation, conversation_id, options=[joinedload(Conversation.customer)]
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id!r} does not exist")
    return conversation


def _last_customer_message(session: Session, conversation_id: str) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role == MessageRole.CUSTOMER)
        .order_by(Message.id.desc())
        .limit(1)
    )


def _best_entries(hits: list[EntryHit]) -> list[EntryHit]:
    """The ``SUGGESTIONS`` best entries of the hits of every question in the message, each once
    with its best score."""
    best: dict[str, EntryHit] = {}
    for hit in hits:
        if hit.entry.id not in best or hit.score > best[hit.entry.id].score:
            best[hit.entry.id] = hit
    return sorted(best.values(), key=lambda hit: -hit.score)[:SUGGESTIONS]
