"""Satisfaction: post-chat surveys and their aggregates, and a predicted score for every
conversation, surveyed or not.

The prediction is a linear model over what happened in the conversation (sentiment, whether it
was resolved, escalations, unanswered turns, length, waiting for a person), on the CSAT scale
1 to 5. Its default weights are set by hand so it works from day one; `cxagent fit-satisfaction`
refits them on surveyed conversations and reports how well predictions agree with the answers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation.redaction import redact
from bot.errors import Conflict, NotFound, Rejected
from bot.live.events import EventHub
from bot.messages import MessageRole
from bot.storage.models import Conversation, Customer, Escalation, FittedModel, Message, Survey

MODEL_NAME = "satisfaction"
FEATURES = (
    "mean_sentiment",  # mean sentiment score of the customer's messages, -1 to 1
    "last_sentiment",  # the last customer message's score
    "resolved",  # 1 if the bot or a person answered the last question, or it was closed
    "escalated",  # 1 if it went to people
    "unanswered",  # bot turns that could not answer (not sure, out of scope, person offered)
    "turns",  # customer messages
    "wait_minutes",  # from escalation to the first reply of a person (capped at 60)
)
# Hand-set before any survey exists: a neutral, resolved, short chat scores about 4.
DEFAULT_WEIGHTS = {
    "intercept": 3.6,
    "mean_sentiment": 0.9,
    "last_sentiment": 0.6,
    "resolved": 0.4,
    "escalated": -0.4,
    "unanswered": -0.3,
    "turns": -0.02,
    "wait_minutes": -0.03,
}
UNANSWERED = frozenset({"not_sure", "out_of_scope", "offer_person"})
ANSWERED = frozenset({"intent", "answer"})
Grouping = Literal["all", "day", "intent", "channel", "segment"]
EMPTY = {"responses": 0, "csat": None, "nps": None, "ces": None}


@dataclass(frozen=True)
class SurveyAnswers:
    csat: int | None = None  # 1-5
    nps: int | None = None  # 0-10
    ces: int | None = None  # 1-7
    comment: str | None = None

    def check(self) -> None:
        for name, value, low, high in (
            ("csat", self.csat, 1, 5),
            ("nps", self.nps, 0, 10),
            ("ces", self.ces, 1, 7),
        ):
            if value is not None and not low <= value <= high:
                raise Rejected(f"{name} must be from {low} to {high}, not {value}")
        if self.csat is None and self.nps is None and self.ces is None and not self.comment:
            raise Rejected("answer at least one question (csat, nps, ces or a comment)")


@dataclass(frozen=True)
class SatisfactionModel:
    weights: dict[str, float]
    fitted_at: datetime | None = None  # None: the hand-set default
    metrics: dict[str, Any] | None = None

    def predict(self, features: dict[str, float]) -> float:
        score = self.weights["intercept"] + sum(
            self.weights[name] * features[name] for name in FEATURES
        )
        return float(min(5.0, max(1.0, score)))


def survey_aggregate(rows: list[Survey]) -> dict[str, Any]:
    """CSAT (% of 4-5), NPS (% promoters 9-10 minus % detractors 0-6), CES mean."""
    csat = [r.csat for r in rows if r.csat is not None]
    nps = [r.nps for r in rows if r.nps is not None]
    ces = [r.ces for r in rows if r.ces is not None]
    return {
        "responses": len(rows),
        "csat": round(100 * sum(v >= 4 for v in csat) / len(csat), 1) if csat else None,
        "nps": (
            round(100 * (sum(v >= 9 for v in nps) - sum(v <= 6 for v in nps)) / len(nps), 1)
            if nps
            else None
        ),
        "ces": round(sum(ces) / len(ces), 2) if ces else None,
    }


class SatisfactionService:
    def __init__(self, sessions: sessionmaker[Session], events: EventHub) -> None:
        self.sessions = sessions
        self.events = events

    def answer_survey(self, conversation_id: str, answers: SurveyAnswers) -> None:
        """Store a conversation's survey (the caller has checked the customer's token); once."""
        answers.check()
        try:
            with self.sessions.begin() as session:
                conversation = session.get(Conversation, conversation_id)
                if conversation is None:
                    raise NotFound(f"conversation {conversation_id!r} does not exist")
                session.add(
                    Survey(
                        conversation_id=conversation.id,
                        customer_id=conversation.customer_id,
                        csat=answers.csat,
                        nps=answers.nps,
                        ces=answers.ces,
                        comment=redact(answers.comment.strip()) if answers.comment else None,
                    )
                )
        except IntegrityError:
            raise Conflict("this conversation's survey is already answered") from None
        self.events.announce(conversation_id, "survey")

    def model(self) -> SatisfactionModel:
        with self.sessions() as session:
            row = session.get(FittedModel, MODEL_NAME)
            if row is None:
                return SatisfactionModel(DEFAULT_WEIGHTS)
            return SatisfactionModel(row.params, row.fitted_at, row.metrics)

    def features(
        self, session: Session, conversation_ids: list[str]
    ) -> dict[str, dict[str, float]]:
        """FEATURES for each conversation, from its messages and escalations."""
        found: dict[str, dict[str, float]] = {}
        if not conversation_ids:
            return found
        messages = session.execute(
            select(
                Message.conversation_id,
                Message.role,
                Message.sentiment_score,
                Message.decision,
                Message.created_at,
            )
            .where(Message.conversation_id.in_(conversation_ids))
            .order_by(Message.id)
        ).all()
        first_escalation = dict(
            session.execute(
                select(Escalation.conversation_id, func.min(Escalation.created_at))
                .where(Escalation.conversation_id.in_(conversation_ids))
                .group_by(Escalation.conversation_id)
            ).all()
        )
        statuses = dict(
            session.execute(
                select(Conversation.id, Conversation.status).where(
                    Conversation.id.in_(conversation_ids)
                )
            ).all()
        )
        by_conversation: dict[str, list[Any]] = defaultdict(list)
        for row in messages:
            by_conversation[row.conversation_id].append(row)
        for conversation_id in conversation_ids:
            rows = by_conversation.get(conversation_id, [])
            scores = [
                r.sentiment_score
                for r in rows
                if r.role == MessageRole.CUSTOMER and r.sentiment_score is not None
            ]
            decisions = [r.decision for r in rows if r.role == MessageRole.BOT]
            escalated_at = first_escalation.get(conversation_id)
            wait = 0.0
            if escalated_at is not None:
                replies = [
                    r.created_at
                    for r in rows
                    if r.role == MessageRole.AGENT and r.created_at >= escalated_at
                ]
                if replies:
                    wait = min(60.0, (replies[0] - escalated_at).total_seconds() / 60)
                else:
                    wait = 60.0 if statuses.get(conversation_id) == "closed" else 0.0
            last_role = rows[-1].role if rows else None
            resolved = statuses.get(conversation_id) == "closed" or (
                last_role == MessageRole.AGENT or (bool(decisions) and decisions[-1] in ANSWERED)
            )
            found[conversation_id] = {
                "mean_sentiment": float(np.mean(scores)) if scores else 0.0,
                "last_sentiment": float(scores[-1]) if scores else 0.0,
                "resolved": float(resolved),
                "escalated": float(escalated_at is not None),
                "unanswered": float(sum(d in UNANSWERED for d in decisions)),
                "turns": float(sum(r.role == MessageRole.CUSTOMER for r in rows)),
                "wait_minutes": wait,
            }
        return found

    def predicted(self, conversation_ids: list[str]) -> dict[str, float]:
        model = self.model()
        with self.sessions() as session:
            return {
                conversation_id: round(model.predict(features), 2)
                for conversation_id, features in self.features(session, conversation_ids).items()
            }

    def aggregates(
        self, by: Grouping, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Survey figures per day, main intent, channel or customer segment."""
        with self.sessions() as session:
            query = (
                select(Survey, Conversation.channel, Customer.attributes)
                .join(Conversation, Survey.conversation_id == Conversation.id)
                .join(Customer, Survey.customer_id == Customer.id)
            )
            if since is not None:
                query = query.where(Survey.created_at >= since)
            if until is not None:
                query = query.where(Survey.created_at < until)
            rows = session.execute(query).all()
            intents = self._main_intents(session, [row.Survey.conversation_id for row in rows])
        groups: dict[str, list[Survey]] = defaultdict(list)
        for row in rows:
            survey = row.Survey
            if by == "all":
                key = "all"
            elif by == "day":
                key = survey.created_at.date().isoformat()
            elif by == "intent":
                key = intents.get(survey.conversation_id, "none")
            elif by == "channel":
                key = row.channel
            else:
                key = row.segment or "unsegmented"
            groups[key].append(survey)
        return [{"group": key, **survey_aggregate(groups[key])} for key in sorted(groups)]

    @staticmethod
    def _main_intents(session: Session, conversation_ids: list[str]) -> dict[str, str]:
        """Each conversation's most frequent customer intent (corrections preferred)."""
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if conversation_ids:
            rows = session.execute(
                select(Message.conversation_id, Message.intent, Message.corrected_intent).where(
                    Message.conversation_id.in_(conversation_ids),
                    Message.role == MessageRole.CUSTOMER,
                )
            ).all()
            for conversation_id, intent, corrected in rows:
                label = corrected or intent
                if label:
                    counts[conversation_id][label] += 1
        return {cid: max(c, key=lambda k: c[k]) for cid, c in counts.items()}

    def fit(self, ridge: float = 1.0) -> SatisfactionModel:
        """Refit the weights on every conversation with a CSAT answer (ridge least squares);
        the report of how well the new predictions agree with the answers comes with it."""
        with self.sessions.begin() as session:
            surveyed = list(
                session.execute(
                    select(Survey.conversation_id, Survey.csat).where(Survey.csat.is_not(None))
                ).all()
            )
            if len(surveyed) < 2 * len(FEATURES):
                raise Rejected(
                    f"{len(surveyed)} surveyed conversations with a CSAT answer; "
                    f"at least {2 * len(FEATURES)} are needed to fit {len(FEATURES)} weights"
                )
            ids = [row.conversation_id for row in surveyed]
            features = self.features(session, ids)
            x = np.array([[features[i][name] for name in FEATURES] for i in ids])
            y = np.array([float(row.csat) for row in surveyed])
            weights = _ridge(x, y, ridge)
            fitted = SatisfactionModel(
                {"intercept": weights[0], **dict(zip(FEATURES, weights[1:], strict=True))}
            )
            metrics = {
                "default": agreement(SatisfactionModel(DEFAULT_WEIGHTS), features, surveyed),
                "fitted": agreement(fitted, features, surveyed),
            }
            row = session.get(FittedModel, MODEL_NAME)
            if row is None:
                row = FittedModel(name=MODEL_NAME, params={}, metrics={})
                session.add(row)
            row.params = fitted.weights
            row.metrics = metrics
            session.flush()
            return SatisfactionModel(fitted.weights, row.fitted_at, metrics)


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> list[float]:
    """Least squares with an intercept, features standardised, the intercept not shrunk."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    design = np.hstack([np.ones((len(z), 1)), z])
    penalty = ridge * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    beta = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    weights = beta[1:] / scale
    intercept = beta[0] - float(weights @ mean)
    return [float(intercept), *(float(w) for w in weights)]


def agreement(
    model: SatisfactionModel, features: dict[str, dict[str, float]], surveyed: list[Any]
) -> dict[str, float]:
    """How predictions agree with CSAT answers: mean absolute error, Spearman correlation, and
    how often predicted satisfied (≥ 3.5) matches answered satisfied (4-5)."""
    predicted = np.array([model.predict(features[row.conversation_id]) for row in surveyed])
    actual = np.array([float(row.csat) for row in surveyed])
    return {
        "conversations": len(surveyed),
        "mae": round(float(np.mean(np.abs(predicted - actual))), 3),
        "spearman": round(_spearman(predicted, actual), 3),
        "satisfied_agreement": round(float(np.mean((predicted >= 3.5) == (actual >= 4))), 3),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks_a, ranks_b = _ranks(a), _ranks(b)
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return math.nan
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks
