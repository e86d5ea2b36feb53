"""The console's dashboard: how the bot and the people did over a window of days.

Figures are counted in Python from a window's rows rather than with SQL date functions, which
differ between SQLite and PostgreSQL; a window is at most a few months of one company's chats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.actions.runner import Outcome
from bot.analytics.satisfaction import EMPTY, SatisfactionService
from bot.conversation.policy import Action
from bot.messages import MessageRole
from bot.storage.models import ActionCall, Escalation, Message, StaffAction, utcnow
from finetune.reading import OOS_LABEL

# Bot decisions that left the customer's question unanswered.
UNANSWERED = (Action.OUT_OF_SCOPE.value, Action.NOT_SURE.value, Action.OFFER_PERSON.value)
TOP_INTENTS = 10
TOP_UNANSWERED = 20


class DashboardService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        satisfaction: SatisfactionService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.satisfaction = satisfaction
        self.clock = clock  # "now", the end of the window; tests pass a fixed time

    def figures(self, days: int) -> dict[str, Any]:
        """The ``days`` up to now: [now - days, now)."""
        until = self.clock()
        since = until - timedelta(days=days)
        with self.sessions() as session:
            customer_messages = session.execute(
                select(
                    Message.conversation_id,
                    Message.created_at,
                    Message.intent,
                    Message.corrected_intent,
                    Message.sentiment,
                    Message.sentiment_score,
                ).where(
                    Message.role == MessageRole.CUSTOMER,
                    Message.created_at >= since,
                    Message.created_at < until,
                )
            ).all()
            escalations = session.execute(
                select(Escalation.conversation_id, Escalation.reason).where(
                    Escalation.created_at >= since, Escalation.created_at < until
                )
            ).all()
            helped = self._helped_by_people(session, since, until)
            acted = self._found_by_actions(session, since, until)
            unanswered = self._unanswered(session, since, until)
        satisfaction = self.satisfaction.aggregates("day", since, until)
        [overall] = self.satisfaction.aggregates("all", since, until) or [EMPTY]

        # A conversation counts from the day of its first customer message in the window.
        first_day: dict[str, str] = {}
        for row in sorted(customer_messages, key=lambda row: row.created_at):
            first_day.setdefault(row.conversation_id, row.created_at.date().isoformat())
        needed_person = helped | {row.conversation_id for row in escalations}
        by_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for conversation_id, day in first_day.items():
            by_day[day][0] += 1
            by_day[day][1] += conversation_id not in needed_person
        conversations = len(first_day)
        without_person = sum(day[1] for day in by_day.values())
        by_actions = len((acted & first_day.keys()) - needed_person)

        sentiment: dict[str, Counter[str]] = defaultdict(Counter)
        scores: dict[str, list[float]] = defaultdict(list)
        intents: Counter[str] = Counter()
        for row in customer_messages:
            day = row.created_at.date().isoformat()
            if row.sentiment:
                sentiment[day][row.sentiment] += 1
            if row.sentiment_score is not None:
                scores[day].append(row.sentiment_score)
            intent = row.corrected_intent or row.intent
            if intent and intent != OOS_LABEL:
                intents[intent] += 1

        return {
            "since": since,
            "until": until,
            "totals": {
                "conversations": conversations,
                "messages": len(customer_messages),
                "surveys": sum(group["responses"] for group in satisfaction),
                "escalations": len(escalations),
            },
            "satisfaction": [
                {key: group[key] for key in ("responses", "csat", "nps", "ces")}
                | {"day": group["group"]}
                for group in satisfaction
            ],
            "satisfaction_overall": {
                key: overall[key] for key in ("responses", "csat", "nps", "ces")
            },
            "resolution": {
                "conversations": conversations,
                "without_person": without_person,
                "share": without_person / conversations if conversations else None,
            },
            "resolved_by_actions": {
                "conversations": by_actions,
                "share": by_actions / conversations if conversations else None,
            },
            "resolution_by_day": [
                {"day": day, "conversations": total, "without_person": alone}
                for day, (total, alone) in sorted(by_day.items())
            ],
            "escalations_by_reason": [
                {"reason": reason, "count": count}
                for reason, count in Counter(row.reason for row in escalations).most_common()
            ],
            "sentiment": [
                {
                    "day": day,
                    "negative": sentiment[day]["negative"],
                    "neutral": sentiment[day]["neutral"],
                    "positive": sentiment[day]["positive"],
                    "mean_score": (
                        round(sum(scores[day]) / len(scores[day]), 3) if scores[day] else None
                    ),
                }
                for day in sorted(sentiment.keys() | scores.keys())
            ],
            "top_intents": [
                {"intent": intent, "count": count}
                for intent, count in intents.most_common(TOP_INTENTS)
            ],
            "unanswered": unanswered,
        }

    @staticmethod
    def _helped_by_people(session: Session, since: datetime, until: datetime) -> set[str]:
        """Conversations a person stepped into, escalated or not."""
        took = session.scalars(
            select(StaffAction.conversation_id).where(
                StaffAction.action == "take",
                StaffAction.created_at >= since,
                StaffAction.created_at < until,
            )
        ).all()
        replied = session.scalars(
            select(Message.conversation_id).where(
                Message.role == MessageRole.AGENT,
                Message.created_at >= since,
                Message.created_at < until,
            )
        ).all()
        return {conversation_id for conversation_id in [*took, *replied] if conversation_id}

    @staticmethod
    def _found_by_actions(session: Session, since: datetime, until: datetime) -> set[str]:
        """Conversations in which an action the bot ran found what the customer asked for (a
        person's lookup from the console is not the bot's doing)."""
        found = session.scalars(
            select(ActionCall.conversation_id).where(
                ActionCall.outcome == Outcome.FOUND.value,
                ActionCall.staff_id.is_(None),
                ActionCall.created_at >= since,
                ActionCall.created_at < until,
            )
        ).all()
        return set(found)

    @staticmethod
    def _unanswered(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The customer questions the bot had no answer to, most asked first (the same words,
        ignoring case, count as one question)."""
        question = aliased(Message)
        rows = session.execute(
            select(question.text, question.created_at)
            .join(Message, Message.reply_to_id == question.id)
            .where(
                Message.decision.in_(UNANSWERED),
                Message.created_at >= since,
                Message.created_at < until,
            )
        ).all()
        grouped: dict[str, dict[str, Any]] = {}
        for text, created_at in rows:
            key = " ".join(text.lower().split())
            found = grouped.setdefault(key, {"text": text, "count": 0, "last_at": created_at})
            found["count"] += 1
            found["last_at"] = max(found["last_at"], created_at)
        ranked = sorted(grouped.values(), key=lambda q: (-q["count"], -q["last_at"].timestamp()))
        return ranked[:TOP_UNANSWERED]
