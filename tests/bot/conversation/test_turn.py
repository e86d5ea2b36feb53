"""The chat turn's steps on their own: values in, values out, no database and no model."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.actions.spec import ActionCatalog
from bot.conversation.escalation import PRIORITIES, EscalationRules, load_escalation_rules
from bot.conversation.policy import Action, DialogueState, Thresholds
from bot.conversation.spelling import Speller
from bot.conversation.states import Status
from bot.conversation.turn import (
    HANDOFF,
    HANDOFF_REPLY,
    NOT_SURE_REPLY,
    OPEN_TOPIC_REPLY,
    Handoff,
    Heard,
    Outcome,
    Reading,
    TurnContext,
    admit,
    conversation_changes,
    escalate,
    hear,
    respond,
)
from bot.errors import Conflict, Rejected
from finetune.reading import Prediction
from retrieval.knowledge_base import Entry, KnowledgeBase
from retrieval.retriever import EntryHit

TRACK = Entry(
    "track.where",
    "track_order",
    ("Where is my order?",),
    "{customer_name}, order {order_id} is on its way; we wrote to {email}.",
    fallback="Give me your order number and I'll tell you where it is.",
)
HELLO = Entry("greeting.hello", "greeting", ("Hello",), "Hello! How can I help?")
KB = KnowledgeBase((TRACK, HELLO), content_hash="test")
SPELLER = Speller.of(KB)
LIMITS = Thresholds(intent=0.6, answer=0.45)
NO_ACTIONS = ActionCatalog()
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEGAL_RULES = """
rules:
  - name: legal
    when: {words_any: [lawyer]}
    queue: escalations
    priority: urgent
    reason: legal action
  - name: unhappy
    when: {sentiment_in: [negative]}
    queue: general
    priority: normal
    reason: unhappy
"""


def context(**changes: object) -> TurnContext:
    values: dict[str, object] = {
        "conversation_id": "c1",
        "customer_id": 7,
        "status": Status.BOT,
        "slots": {},
        "dialogue": DialogueState(),
        "customer_name": "Priya",
        "customer_email": "priya@example.com",
        "facts": {},
    }
    values.update(changes)
    return TurnContext(**values)  # type: ignore[arg-type]


def reading(intent: str, confidence: float, sentiment: str = "neutral", *hits: EntryHit) -> Reading:
    return Reading(Prediction(intent, confidence, False, sentiment, 0.0), list(hits))


def turn(
    heard: Heard,
    reading: Reading,
    ctx: TurnContext,
    limits: Thresholds,
    kb: KnowledgeBase,
    rules: EscalationRules,
    actions: ActionCatalog = NO_ACTIONS,
) -> Outcome:
    """respond, then escalate, as the chat service runs them (act has nothing to do here)."""
    return escalate(respond(heard, reading, ctx, limits, kb, actions), heard, reading, ctx, rules)


@pytest.fixture
def rules(tmp_path: Path) -> EscalationRules:
    path = tmp_path / "rules.yaml"
    path.write_text(LEGAL_RULES)
    return load_escalation_rules(path)


def test_admit_strips_and_refuses_empty_or_long_messages() -> None:
    assert admit("  where is it?  ", 20) == "where is it?"
    with pytest.raises(Rejected, match="empty"):
        admit("   ", 20)
    with pytest.raises(Rejected, match="21 characters; at most 20"):
        admit("x" * 21, 20)


def test_hear_finds_slots_in_the_raw_text_and_keeps_only_the_redacted_one() -> None:
    heard = hear("order BC-204518, mail me at new@example.com", context(slots={"x": "1"}), SPELLER)
    assert heard.redacted == "order BC-204518, mail me at [email]"
    assert heard.found == {"order_id": "BC-204518", "email": "new@example.com"}
    assert heard.slots == {"x": "1", "order_id": "BC-204518"}  # e-mail is the profile's
    assert heard.profile_changes == {"email": "new@example.com"}
    assert heard.known == {
        "customer_name": "Priya",
        "email": "new@example.com",
        "order_id": "BC-204518",
    }
    # A name stated by the customer does not override the site's record of it.
    assert "name" not in hear("my name is Bob", context(), SPELLER).profile_changes
    assert hear("my name is Bob", context(customer_name=None), SPELLER).profile_changes == {
        "name": "Bob"
    }


def test_respond_answers_a_confident_intent_filled_from_what_was_heard(
    rules: EscalationRules,
) -> None:
    ctx = context()
    heard = hear("where is BC-204518?", ctx, SPELLER)
    outcome = turn(
        heard, reading("track_order", 0.9, "neutral", EntryHit(TRACK, 0.7)), ctx, LIMITS, KB, rules
    )
    assert outcome.handoff is None and outcome.reply is not None
    assert outcome.reply.decision == Action.INTENT
    assert outcome.reply.entry_id == "track.where" and outcome.reply.score == 0.7
    assert outcome.reply.text == (
        "Priya, order BC-204518 is on its way; we wrote to priya@example.com."
    )
    assert outcome.dialogue.last_entry_id == "track.where"


def test_respond_hands_over_when_a_rule_fires_on_the_raw_words(rules: EscalationRules) -> None:
    ctx = context()
    outcome = turn(
        hear("I'll call my lawyer", ctx, SPELLER),
        reading("track_order", 0.3, "negative", EntryHit(TRACK, 0.2)),
        ctx,
        LIMITS,
        KB,
        rules,
    )
    assert outcome.reply is not None and outcome.handoff is not None
    assert (outcome.reply.text, outcome.reply.decision) == (HANDOFF_REPLY, HANDOFF)
    assert outcome.reply.reason == "escalated: legal (said 'lawyer'); unhappy (sentiment negative)"
    # The most urgent rule chooses the queue; every rule that fired is named.
    assert (outcome.handoff.queue, outcome.handoff.priority) == (
        "escalations",
        PRIORITIES["urgent"],
    )
    assert [firing["rule"] for firing in outcome.handoff.firings] == ["legal", "unhappy"]


def test_respond_stays_silent_while_people_have_the_conversation(rules: EscalationRules) -> None:
    ctx = context(status=Status.WITH_AGENT)
    outcome = turn(
        hear("hello?", ctx, SPELLER), reading("greeting", 0.9, "negative"), ctx, LIMITS, KB, rules
    )
    assert outcome.reply is None and outcome.handoff is None
    assert outcome.dialogue.negative_streak == 1  # the mood is still followed


def test_a_greeting_reminds_a_returning_customer_of_their_open_topic_once(
    rules: EscalationRules,
) -> None:
    ctx = context(dialogue=DialogueState(open_topic="track.where"))
    outcome = turn(
        hear("hi", ctx, SPELLER),
        reading("greeting", 0.95, "neutral", EntryHit(HELLO, 0.9)),
        ctx,
        LIMITS,
        KB,
        rules,
    )
    assert outcome.reply is not None
    assert outcome.reply.text == "Hello! How can I help?" + OPEN_TOPIC_REPLY.format(
        topic="Where is my order?"
    )
    assert outcome.reply.reason.endswith("reminded of the open topic track.where")


def test_without_a_reading_worth_answering_the_bot_says_it_is_not_sure(
    rules: EscalationRules,
) -> None:
    ctx = context()
    unsure = Reading(None, [EntryHit(TRACK, 0.1)])
    outcome = turn(hear("zzz", ctx, SPELLER), unsure, ctx, LIMITS, KB, rules)
    assert outcome.reply is not None and outcome.reply.text == NOT_SURE_REPLY


def test_conversation_changes_reopen_a_closed_conversation_and_escalate_it(
    rules: EscalationRules,
) -> None:
    ctx = context(status=Status.CLOSED, facts={"tier": "vip"})
    heard = hear("my lawyer will hear of this, order BC-111111", ctx, SPELLER)
    outcome = turn(heard, reading("track_order", 0.3), ctx, LIMITS, KB, rules)
    changes = conversation_changes(ctx, heard, outcome, NOW)
    assert changes["status"] == Status.WAITING  # closed → bot → waiting, in one turn
    assert changes["queue"] == "escalations" and changes["waiting_since"] == NOW
    assert changes["slots"] == {"order_id": "BC-111111"}
    quiet = replace(outcome, handoff=None)
    assert conversation_changes(ctx, heard, quiet, NOW)["status"] == Status.BOT
    # A silent turn only notes the message: no status change, no slots unchanged written.
    silent = context(status=Status.WAITING)
    heard = hear("hello?", silent, SPELLER)
    changes = conversation_changes(
        silent, heard, turn(heard, reading("greeting", 0.9), silent, LIMITS, KB, rules), NOW
    )
    assert set(changes) == {"last_message_at", "dialogue"}


def test_conversation_changes_refuse_a_move_the_states_do_not_allow() -> None:
    # A person has it: a hand-over from there is no move the conversation's states allow.
    ctx = context(status=Status.WITH_AGENT)
    handoff = Handoff("general", 1, False, "test", ())
    outcome = Outcome(None, handoff, DialogueState())
    with pytest.raises(Conflict, match="the conversation is with_agent"):
        conversation_changes(ctx, hear("x", ctx, SPELLER), outcome, NOW)
