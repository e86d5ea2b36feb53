"""Escalation rules: when a conversation goes to a person, to which queue, how urgently, and why.

The rules live in a YAML file (``data/escalation.yaml``), checked when it is loaded: a mistake
stops start-up with a message naming the rule and the field. A rule fires when all of its
conditions hold; every rule that fires is recorded with what made it fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import CxagentError

PRIORITIES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SENTIMENTS = frozenset({"negative", "neutral", "positive"})


class EscalationRulesError(CxagentError, ValueError):
    """The rules file is missing or wrong; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Situation:
    """What the rules can see after the bot has read a customer message."""

    text: str
    intent: str | None
    sentiment: str | None
    accepted_person: bool  # the customer said yes when the bot offered a person
    negative_streak: int  # customer messages in a row read as negative, this one included
    fallbacks: int  # bot turns in a row that could not answer, this one included
    profile: dict[str, Any]  # the customer's attributes: tier, churn_risk, lifetime_value, …


@dataclass(frozen=True)
class Firing:
    rule: str
    why: str


def _words_pattern(phrases: list[str]) -> re.Pattern[str]:
    return re.compile(
        r"\b(" + "|".join(re.escape(p.lower()) for p in phrases) + r")\b", re.IGNORECASE
    )


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: dict[str, Any]
    queue: str
    priority: str
    reason: str

    def check(self, situation: Situation) -> str | None:
        """Why the rule fires, or None when one of its conditions does not hold."""
        reasons: list[str] = []
        for condition, wanted in self.conditions.items():
            why = CONDITIONS[condition][1](wanted, situation)
            if why is None:
                return None
            reasons.append(why)
        return "; ".join(reasons)


def _intent_in(wanted: frozenset[str], s: Situation) -> str | None:
    return f"intent {s.intent}" if s.intent in wanted else None


def _sentiment_in(wanted: frozenset[str], s: Situation) -> str | None:
    return f"sentiment {s.sentiment}" if s.sentiment in wanted else None


def _accepted_person(wanted: bool, s: Situation) -> str | None:
    return "accepted the offer of a person" if s.accepted_person == wanted else None


def _negative_streak(wanted: int, s: Situation) -> str | None:
    return (
        f"{s.negative_streak} negative messages in a row" if s.negative_streak >= wanted else None
    )


def _fallbacks(wanted: int, s: Situation) -> str | None:
    return f"{s.fallbacks} unanswered turns in a row" if s.fallbacks >= wanted else None


def _words(wanted: re.Pattern[str], s: Situation) -> str | None:
    found = wanted.search(s.text)
    return f"said {found.group(1).lower()!r}" if found else None


def _tier_in(wanted: frozenset[str], s: Situation) -> str | None:
    tier = s.profile.get("tier")
    return f"tier {tier}" if isinstance(tier, str) and tier.lower() in wanted else None


def _at_least(attribute: str):  # type: ignore[no-untyped-def]
    def check(wanted: float, s: Situation) -> str | None:
        value = s.profile.get(attribute)
        if isinstance(value, int | float) and value >= wanted:
            return f"{attribute} {value:g} >= {wanted:g}"
        return None

    return check


def _strings(rule: str, field: str, value: Any, allowed: frozenset[str] | None = None) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"rule {rule!r}: `{field}` must be a string or a list of strings")
    lowered = frozenset(v.strip().lower() for v in value)
    if allowed is not None and not lowered <= allowed:
        raise ValueError(
            f"rule {rule!r}: `{field}` has {sorted(lowered - allowed)}; allowed: {sorted(allowed)}"
        )
    return lowered


def _count(rule: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"rule {rule!r}: `{field}` must be a whole number of at least 1")
    return value


def _number(rule: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"rule {rule!r}: `{field}` must be a number")
    return float(value)


def _flag(rule: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"rule {rule!r}: `{field}` must be true or false")
    return value


# condition name → (parse the YAML value, check it against a situation)
CONDITIONS: dict[str, tuple[Any, Any]] = {
    "intent_in": (lambda r, f, v: _strings(r, f, v), _intent_in),
    "sentiment_in": (lambda r, f, v: _strings(r, f, v, SENTIMENTS), _sentiment_in),
    "accepted_person_offer": (_flag, _accepted_person),
    "negative_streak_at_least": (_count, _negative_streak),
    "fallbacks_at_least": (_count, _fallbacks),
    "words_any": (lambda r, f, v: _words_pattern(sorted(_strings(r, f, v))), _words),
    "tier_in": (lambda r, f, v: _strings(r, f, v), _tier_in),
    "churn_risk_at_least": (_number, _at_least("churn_risk")),
    "lifetime_value_at_least": (_number, _at_least("lifetime_value")),
}
RULE_FIELDS = frozenset({"name", "when", "queue", "priority", "reason"})


# Profile conditions that can mark a customer as high value (front of the queue).
PROFILE_CONDITIONS = frozenset({"tier_in", "churn_risk_at_least", "lifetime_value_at_least"})


@dataclass(frozen=True)
class EscalationRules:
    rules: tuple[Rule, ...]
    # Any of these conditions makes a customer high value: their conversations wait in front.
    high_value: dict[str, Any] = field(default_factory=dict)

    def is_high_value(self, profile: dict[str, Any]) -> bool:
        probe = Situation("", None, None, False, 0, 0, profile)
        return any(
            CONDITIONS[name][1](wanted, probe) is not None
            for name, wanted in self.high_value.items()
        )

    def fire(self, situation: Situation) -> list[tuple[Rule, Firing]]:
        """Every rule that fires, in file order, with why."""
        fired = []
        for rule in self.rules:
            why = rule.check(situation)
            if why is not None:
                fired.append((rule, Firing(rule.name, why)))
        return fired


def load_escalation_rules(path: Path) -> EscalationRules:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EscalationRulesError(
            f"cannot read escalation rules {path}: {error.strerror}"
        ) from None
    except yaml.YAMLError as error:
        raise EscalationRulesError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise EscalationRulesError(f"{path}: expected a mapping with a list under `rules`")
    rules: list[Rule] = []
    for position, item in enumerate(document["rules"], start=1):
        try:
            rules.append(_parse_rule(position, item))
        except ValueError as error:
            raise EscalationRulesError(f"{path}: {error}") from None
    try:
        high_value = _parse_high_value(document.get("high_value", {}))
    except ValueError as error:
        raise EscalationRulesError(f"{path}: {error}") from None
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise EscalationRulesError(f"{path}: rule name(s) used twice: {', '.join(twice)}")
    return EscalationRules(tuple(rules), high_value)


def _parse_high_value(high_value: object) -> dict[str, Any]:
    """The profile conditions that make a customer high-value (they go to the queue's front)."""
    if not isinstance(high_value, dict):
        raise ValueError("`high_value` must map profile conditions to values")
    parsed: dict[str, Any] = {}
    for condition, value in high_value.items():
        if condition not in PROFILE_CONDITIONS:
            raise ValueError(
                f"unknown condition `high_value.{condition}`; "
                f"allowed: {', '.join(sorted(PROFILE_CONDITIONS))}"
            )
        parsed[condition] = CONDITIONS[condition][0]("high_value", f"high_value.{condition}", value)
    return parsed


def _parse_rule(position: int, item: object) -> Rule:
    if not isinstance(item, dict):
        raise ValueError(f"rule #{position} is not a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"rule #{position}: `name` must be a non-empty string")
    unknown = set(item) - RULE_FIELDS
    if unknown:
        raise ValueError(
            f"rule {name!r}: unknown field(s) {sorted(unknown)}; allowed: {sorted(RULE_FIELDS)}"
        )
    when = item.get("when")
    if not isinstance(when, dict) or not when:
        raise ValueError(f"rule {name!r}: `when` must map at least one condition to a value")
    conditions: dict[str, Any] = {}
    for condition, value in when.items():
        if condition not in CONDITIONS:
            raise ValueError(
                f"rule {name!r}: unknown condition `when.{condition}`; "
                f"allowed: {', '.join(sorted(CONDITIONS))}"
            )
        conditions[condition] = CONDITIONS[condition][0](name, f"when.{condition}", value)
    priority = item.get("priority", "normal")
    if priority not in PRIORITIES:
        raise ValueError(
            f"rule {name!r}: `priority` is {priority!r}; allowed: {', '.join(PRIORITIES)}"
        )
    texts = {"queue": item.get("queue", "general"), "reason": item.get("reason")}
    for key, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"rule {name!r}: `{key}` must be a non-empty string")
    return Rule(name, conditions, str(texts["queue"]), priority, str(texts["reason"]))
