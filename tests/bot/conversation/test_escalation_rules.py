"""Escalation rules: loading with errors that name the rule and field, and which rules fire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import DEMO_DIR
from bot.conversation.escalation import EscalationRulesError, Situation, load_escalation_rules


def situation(**changes: Any) -> Situation:
    values: dict[str, Any] = {
        "text": "where is my order",
        "intent": "track_order",
        "sentiment": "neutral",
        "accepted_person": False,
        "negative_streak": 0,
        "fallbacks": 0,
        "profile": {},
    }
    values.update(changes)
    return Situation(**values)


def fired(**changes: Any) -> dict[str, str]:
    rules = load_escalation_rules(DEMO_DIR / "escalation.yaml")
    return {firing.rule: firing.why for _, firing in rules.fire(situation(**changes))}


def test_the_demo_rules_fire_for_what_they_describe_and_not_otherwise() -> None:
    assert fired() == {}
    assert fired(intent="human_agent") == {"asks_for_a_person": "intent human_agent"}
    assert fired(text="I'll be calling my Solicitor") == {"legal_action": "said 'solicitor'"}
    assert "legal_action" not in fired(text="my account is fine, thanks")
    # Closing an account is answered by the bot; only an unhappy customer goes to a person.
    assert fired(text="please delete my account", intent="account_delete") == {}
    unhappy = fired(
        text="useless, delete my account", intent="account_delete", sentiment="negative"
    )
    assert unhappy == {"closing_account_and_unhappy": "intent account_delete; sentiment negative"}
    assert set(fired(sentiment="negative", negative_streak=2)) == {"two_negative_messages_in_a_row"}
    assert fired(sentiment="negative", negative_streak=1) == {}
    vip = fired(sentiment="negative", negative_streak=1, profile={"tier": "VIP"})
    assert vip == {"vip_and_unhappy": "tier VIP; sentiment negative"}
    assert fired(sentiment="positive", profile={"tier": "vip"}) == {}
    churn = fired(sentiment="negative", profile={"churn_risk": 0.82})
    assert churn == {"likely_to_leave_and_unhappy": "churn_risk 0.82 >= 0.7; sentiment negative"}
    assert fired(accepted_person=True) == {
        "accepted_offer_of_a_person": "accepted the offer of a person"
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("rules: nope", "a list under `rules`"),
        ("rules:\n  - when: {intent_in: [x]}\n    reason: r", "rule #1: `name`"),
        (
            "rules:\n  - name: angry\n    when: {sentiment_in: [furious]}\n    reason: r",
            "rule 'angry': `when.sentiment_in` has ['furious']",
        ),
        (
            "rules:\n  - name: typo\n    when: {intnet_in: [x]}\n    reason: r",
            "rule 'typo': unknown condition `when.intnet_in`",
        ),
        (
            "rules:\n  - name: soon\n    when: {fallbacks_at_least: 0}\n    reason: r",
            "rule 'soon': `when.fallbacks_at_least` must be a whole number",
        ),
        (
            "rules:\n  - name: hurry\n    when: {intent_in: x}\n    priority: asap\n    reason: r",
            "rule 'hurry': `priority` is 'asap'",
        ),
        ("rules:\n  - name: quiet\n    when: {intent_in: x}", "rule 'quiet': `reason`"),
        (
            "rules:\n  - name: extra\n    when: {intent_in: x}\n    reason: r\n    colour: red",
            "rule 'extra': unknown field(s) ['colour']",
        ),
        (
            "rules:\n  - {name: a, when: {intent_in: x}, reason: r}\n"
            "  - {name: a, when: {intent_in: y}, reason: r}",
            "used twice: a",
        ),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_rule_and_field(
    tmp_path: Path, rules: str, message: str
) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(rules)
    with pytest.raises(EscalationRulesError) as raised:
        load_escalation_rules(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EscalationRulesError, match="cannot read escalation rules"):
        load_escalation_rules(tmp_path / "absent.yaml")
