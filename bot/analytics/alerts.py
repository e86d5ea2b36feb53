"""The negative-sentiment alert across all traffic, and the service's metrics for Prometheus.

The alert compares the share of negative customer messages in the last hour with the share over
the week before. It fires when the recent share is well above the usual one: more than three
standard errors above it and at least half as much again, over enough messages to mean
something. A quiet hour with two unhappy customers out of three is not an incident, and neither
is a busy first hour of a fresh install: without a week of history nobody knows what is usual.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation.states import Status
from bot.messages import MessageRole
from bot.storage.models import ActionCall, Conversation, Message, utcnow

RECENT = timedelta(hours=1)
BASELINE = timedelta(days=7)
MIN_RECENT_MESSAGES = 20
# The week before must hold this many customer messages read for sentiment before "usual" means
# anything; until then the alert cannot fire, and says why.
MIN_BASELINE_MESSAGES = 100


@dataclass(frozen=True)
class SentimentAlert:
    alert: bool
    recent_share: float | None  # negative share of the last hour's customer messages
    baseline_share: float | None  # the same over the week before
    recent_messages: int
    baseline_messages: int
    threshold: float | None  # the recent share above which the alert fires
    reason: str
    enough_history: bool  # the week before holds enough messages for the alert to fire


class AlertService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.clock = clock  # "now", for the windows; tests pass a fixed time

    def negative_sentiment(self) -> SentimentAlert:
        now = self.clock()
        with self.sessions() as session:
            recent = _negative_share(session, now - RECENT, now)
            baseline = _negative_share(session, now - RECENT - BASELINE, now - RECENT)
        (recent_negative, recent_total), (base_negative, base_total) = recent, baseline
        recent_share = recent_negative / recent_total if recent_total else None
        base_share = base_negative / base_total if base_total else None
        enough_history = base_total >= MIN_BASELINE_MESSAGES
        if not enough_history:
            return SentimentAlert(
                False, recent_share, base_share, recent_total, base_total, None,
                f"not enough history yet: {base_total} customer messages in the week before "
                f"the last hour, and the alert needs {MIN_BASELINE_MESSAGES} to know what is usual",
                enough_history,
            )  # fmt: skip
        if recent_share is None or recent_total < MIN_RECENT_MESSAGES:
            return SentimentAlert(
                False, recent_share, base_share, recent_total, base_total, None,
                f"fewer than {MIN_RECENT_MESSAGES} customer messages in the last hour",
                enough_history,
            )  # fmt: skip
        usual = base_share if base_share is not None else 0.0
        # The share one would call "well above usual" for this many recent messages.
        spread = math.sqrt(max(usual * (1 - usual), 0.01) / recent_total)
        threshold = max(usual + 3 * spread, 1.5 * usual)
        firing = recent_share > threshold
        reason = (
            f"{recent_share:.0%} of the last hour's {recent_total} messages were negative, "
            f"against {usual:.0%} over the week before (alert above {threshold:.0%})"
        )
        return SentimentAlert(
            firing, recent_share, base_share, recent_total, base_total, threshold, reason, True
        )

    def prometheus(self) -> str:
        """The metrics in Prometheus' text format."""
        alert = self.negative_sentiment()
        with self.sessions() as session:
            by_status = dict(
                session.execute(
                    select(Conversation.status, func.count()).group_by(Conversation.status)
                ).all()
            )
            messages = dict(
                session.execute(select(Message.role, func.count()).group_by(Message.role)).all()
            )
            action_calls = session.execute(
                select(ActionCall.action, ActionCall.outcome, func.count())
                .group_by(ActionCall.action, ActionCall.outcome)
                .order_by(ActionCall.action, ActionCall.outcome)
            ).all()
        lines = [
            "# HELP cxagent_negative_sentiment_alert 1 when negative sentiment is well above its "
            "recent level",
            "# TYPE cxagent_negative_sentiment_alert gauge",
            f"cxagent_negative_sentiment_alert {int(alert.alert)}",
            "# HELP cxagent_negative_sentiment_share Share of negative customer messages",
            "# TYPE cxagent_negative_sentiment_share gauge",
            f'cxagent_negative_sentiment_share{{window="last_hour"}} {alert.recent_share or 0:.4f}',
            f'cxagent_negative_sentiment_share{{window="week_before"}} '
            f"{alert.baseline_share or 0:.4f}",
            "# HELP cxagent_conversations Conversations by status",
            "# TYPE cxagent_conversations gauge",
            *(
                f'cxagent_conversations{{status="{status.value}"}} {by_status.get(status.value, 0)}'
                for status in Status
            ),
            "# HELP cxagent_messages_total Messages stored, by role",
            "# TYPE cxagent_messages_total counter",
            *(
                f'cxagent_messages_total{{role="{role}"}} {messages.get(role, 0)}'
                for role in MessageRole
            ),
            "# HELP cxagent_action_calls_total Calls actions made to the company's API, by "
            "action and outcome",
            "# TYPE cxagent_action_calls_total counter",
            *(
                f'cxagent_action_calls_total{{action="{action}",outcome="{outcome}"}} {count}'
                for action, outcome, count in action_calls
            ),
        ]
        return "\n".join(lines) + "\n"


def _negative_share(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """(negative customer messages, customer messages with a sentiment) in [start, end)."""
    negative, total = session.execute(
        select(
            func.coalesce(func.sum(case((Message.sentiment == "negative", 1), else_=0)), 0),
            func.count(),
        ).where(
            Message.role == MessageRole.CUSTOMER,
            Message.sentiment.is_not(None),
            Message.created_at >= start,
            Message.created_at < end,
        )
    ).one()
    return int(negative), int(total)
