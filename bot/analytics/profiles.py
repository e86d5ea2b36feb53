"""What the profile knows beyond what the site tells: churn risk, lifecycle stage, lifetime value
and segment, from the customer's history with us.

- Churn risk: a logistic model over profile features. Hand-set weights work before any outcome is
  known; `cxagent fit-churn` refits them on customers whose outcome the site has reported (the
  attribute ``churned``: true or false).
- Lifecycle: churned (reported, or unseen for 180 days), new (first seen within 30 days, at most
  one conversation), at risk (churn risk of 0.5 or more), otherwise active.
- Lifetime value: yearly spend times the expected remaining years (1 / churn risk, at most 10).
- Segments: k-means over the standardised features (`cxagent segment`), each described by what
  sets it apart.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import Rejected
from bot.messages import MessageRole
from bot.storage.models import (
    Conversation,
    Customer,
    Escalation,
    FittedModel,
    Message,
    Survey,
    utcnow,
)

CHURN_MODEL = "churn"
SEGMENT_MODEL = "segments"
FEATURES = (
    "days_since_seen",  # since the last message or visit
    "tenure_days",  # since first seen
    "conversations",
    "negative_share",  # of the customer's messages read as negative
    "escalations",
    "mean_csat",  # 1-5; 3.5 (no opinion) when never surveyed
    "spend",  # attribute `spend` (GBP), 0 when unknown
    "orders",  # attribute `order_count`, 0 when unknown
)
# Before any outcome is known: long absence, unhappiness and escalations raise the risk; good
# ratings and many orders lower it. A content customer seen this week scores about 0.15.
DEFAULT_CHURN_WEIGHTS = {
    "intercept": -1.8,
    "days_since_seen": 0.02,
    "tenure_days": 0.0,
    "conversations": 0.0,
    "negative_share": 2.5,
    "escalations": 0.3,
    "mean_csat": -0.5,
    "spend": 0.0,
    "orders": -0.05,
}
CSAT_CENTRE = 3.5
CHURNED_AFTER_DAYS = 180
NEW_WITHIN_DAYS = 30
SEGMENT_FEATURES = ("days_since_seen", "conversations", "negative_share", "spend", "orders")


@dataclass(frozen=True)
class ProfileScores:
    churn_risk: float
    lifecycle_stage: str
    lifetime_value: float


def churn_risk(weights: dict[str, float], features: dict[str, float]) -> float:
    z = weights["intercept"] + sum(
        weights[name] * (features[name] - (CSAT_CENTRE if name == "mean_csat" else 0.0))
        for name in FEATURES
    )
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def scores(features: dict[str, float], risk: float, reported_churned: bool | None) -> ProfileScores:
    if reported_churned or features["days_since_seen"] > CHURNED_AFTER_DAYS:
        stage = "churned"
    elif features["tenure_days"] <= NEW_WITHIN_DAYS and features["conversations"] <= 1:
        stage = "new"
    elif risk >= 0.5:
        stage = "at_risk"
    else:
        stage = "active"
    years = max(features["tenure_days"] / 365, 1 / 12)
    expected_years = min(10.0, 1 / max(risk, 0.1))
    value = features["spend"] / years * expected_years
    return ProfileScores(round(risk, 3), stage, round(value, 2))


class ProfileService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.clock = clock  # "now", for days since seen and tenure; tests pass a fixed time

    def features(
        self, session: Session, customer_ids: list[int] | None = None
    ) -> dict[int, dict[str, float]]:
        now = self.clock()
        query = select(Customer)
        if customer_ids is not None:
            query = query.where(Customer.id.in_(customer_ids))
        customers = session.scalars(query).all()
        ids = [c.id for c in customers]
        if not ids:
            return {}
        sentiment: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for customer_id, label, count in session.execute(
            select(Message.customer_id, Message.sentiment, func.count())
            .where(
                Message.customer_id.in_(ids),
                Message.role == MessageRole.CUSTOMER,
                Message.sentiment.is_not(None),
            )
            .group_by(Message.customer_id, Message.sentiment)
        ).all():
            sentiment[customer_id][0 if label == "negative" else 1] += int(count)
        escalations = dict(
            session.execute(
                select(Conversation.customer_id, func.count(Escalation.id))
                .join(Escalation, Escalation.conversation_id == Conversation.id)
                .where(Conversation.customer_id.in_(ids))
                .group_by(Conversation.customer_id)
            ).all()
        )
        csat: dict[int, Any] = dict(
            session.execute(
                select(Survey.customer_id, func.avg(Survey.csat))
                .where(Survey.customer_id.in_(ids), Survey.csat.is_not(None))
                .group_by(Survey.customer_id)
            ).all()
        )
        found = {}
        for c in customers:
            negative, other = sentiment.get(c.id, [0, 0])
            attributes = c.attributes or {}
            found[c.id] = {
                "days_since_seen": max(0.0, (now - c.last_seen_at).total_seconds() / 86400),
                "tenure_days": max(0.0, (now - c.first_seen_at).total_seconds() / 86400),
                "conversations": float(c.conversation_count),
                "negative_share": negative / (negative + other) if negative + other else 0.0,
                "escalations": float(escalations.get(c.id, 0)),
                "mean_csat": float(csat[c.id]) if c.id in csat else CSAT_CENTRE,
                "spend": _number(attributes.get("spend")),
                "orders": _number(attributes.get("order_count")),
            }
        return found

    def churn_weights(self, session: Session) -> dict[str, float]:
        row = session.get(FittedModel, CHURN_MODEL)
        return dict(row.params) if row is not None else dict(DEFAULT_CHURN_WEIGHTS)

    def refresh(self, customer_ids: list[int] | None = None) -> int:
        """Recompute and store churn risk, lifecycle stage and lifetime value; how many."""
        with self.sessions.begin() as session:
            features = self.features(session, customer_ids)
            weights = self.churn_weights(session)
            reported: dict[int, dict[str, Any]] = dict(
                session.execute(
                    select(Customer.id, Customer.attributes).where(Customer.id.in_(list(features)))
                ).all()
            )
            for customer_id, values in features.items():
                churned = (reported.get(customer_id) or {}).get("churned")
                result = scores(values, churn_risk(weights, values), _flag(churned))
                session.execute(
                    update(Customer)
                    .where(Customer.id == customer_id)
                    .values(
                        churn_risk=result.churn_risk,
                        lifecycle_stage=result.lifecycle_stage,
                        lifetime_value=result.lifetime_value,
                    )
                )
            return len(features)

    def fit_churn(self) -> dict[str, Any]:
        """Refit the churn weights on customers with a reported outcome; the fit's figures."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        with self.sessions.begin() as session:
            features = self.features(session)
            outcomes = {
                cid: _flag((attributes or {}).get("churned"))
                for cid, attributes in session.execute(select(Customer.id, Customer.attributes))
            }
            known = [cid for cid in features if outcomes.get(cid) is not None]
            labels = np.array([bool(outcomes[cid]) for cid in known])
            if len(known) < 20 or labels.all() or not labels.any():
                raise Rejected(
                    f"{len(known)} customers with a reported outcome ({int(labels.sum())} churned);"
                    " at least 20, with both outcomes, are needed"
                )
            x = np.array(
                [
                    [
                        features[cid][n] - (CSAT_CENTRE if n == "mean_csat" else 0.0)
                        for n in FEATURES
                    ]
                    for cid in known
                ]
            )
            mean, scale = x.mean(axis=0), x.std(axis=0)
            scale[scale == 0] = 1.0
            model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, labels)
            coef = model.coef_[0] / scale
            weights = {
                "intercept": float(model.intercept_[0] - coef @ mean),
                **{name: float(w) for name, w in zip(FEATURES, coef, strict=True)},
            }
            default = [churn_risk(DEFAULT_CHURN_WEIGHTS, features[cid]) for cid in known]
            fitted = [churn_risk(weights, features[cid]) for cid in known]
            metrics = {
                "customers": len(known),
                "churned": int(labels.sum()),
                "auc_default": round(float(roc_auc_score(labels, default)), 3),
                "auc_fitted": round(float(roc_auc_score(labels, fitted)), 3),
            }
            _store(session, CHURN_MODEL, weights, metrics, self.clock())
        self.refresh()
        return {"weights": weights, "metrics": metrics}

    def segment(self, k: int = 4, seed: int = 13) -> list[dict[str, Any]]:
        """Cluster customers into ``k`` segments, store each customer's, describe each one."""
        from sklearn.cluster import KMeans

        with self.sessions.begin() as session:
            features = self.features(session)
            if len(features) < 2 * k:
                raise Rejected(f"{len(features)} customers; segmenting into {k} needs {2 * k}")
            ids = list(features)
            x = np.array([[features[cid][n] for n in SEGMENT_FEATURES] for cid in ids])
            x[:, SEGMENT_FEATURES.index("spend")] = np.log1p(x[:, SEGMENT_FEATURES.index("spend")])
            mean, scale = x.mean(axis=0), x.std(axis=0)
            scale[scale == 0] = 1.0
            z = (x - mean) / scale
            kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(z)
            segments = []
            for cluster, centre in enumerate(kmeans.cluster_centers_):
                members = [
                    cid for cid, label in zip(ids, kmeans.labels_, strict=True) if label == cluster
                ]
                description = _describe(centre)
                name = f"segment {cluster + 1}: {description}"
                session.execute(
                    update(Customer).where(Customer.id.in_(members)).values(segment=name)
                )
                segments.append({"segment": name, "customers": len(members)})
            _store(
                session,
                SEGMENT_MODEL,
                {
                    "centres": kmeans.cluster_centers_.tolist(),
                    "mean": mean.tolist(),
                    "scale": scale.tolist(),
                },
                {"segments": segments},
                self.clock(),
            )
            return segments


_WORDS = {
    "days_since_seen": ("recently seen", "long unseen"),
    "conversations": ("few chats", "many chats"),
    "negative_share": ("content", "often unhappy"),
    "spend": ("low spend", "high spend"),
    "orders": ("few orders", "many orders"),
}


def _describe(centre: np.ndarray) -> str:
    """The two features that set a segment apart most, in words."""
    strongest = np.argsort(-np.abs(centre))[:2]
    return ", ".join(_WORDS[SEGMENT_FEATURES[i]][int(centre[i] > 0)] for i in strongest)


def _store(
    session: Session,
    name: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    fitted_at: datetime,
) -> None:
    row = session.get(FittedModel, name)
    if row is None:
        row = FittedModel(name=name, params=params, metrics=metrics, fitted_at=fitted_at)
        session.add(row)
    else:
        row.params, row.metrics, row.fitted_at = params, metrics, fitted_at


def _number(value: object) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "0"}:
        return False
    return None
