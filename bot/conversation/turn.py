"""One customer message, as named steps that take and return values.

    admit → hear → read → respond (decide, a form, word) → act → the other questions →
    escalate → record → announce

`ChatService.post_message` (bot/conversation/service.py) runs them in that order; admit, act,
record and announce touch the database, the company's API or the live events there, and every
step in this module is pure, so each is tested without a database
(tests/bot/conversation/test_turn.py).

Which text each step sees, and why:

| step     | text     | why                                                                   |
| -------- | -------- | --------------------------------------------------------------------- |
| hear     | raw      | slots (order number, e-mail, name) are found in what the customer     |
|          |          | typed, and redaction needs the raw text to know what to hide          |
| read     | redacted | the model reads what is stored, with emoji as words (model_text.py)   |
|          | + emoji  | and misspellings corrected (spelling.py), one question at a time      |
|          | as words | (questions.py): personal data never reaches it, and a model retrained |
|          | + spelt  | on exported messages reads them the same way                          |
| decide   | raw      | "my e-mail is …" is a slot-only message only while the address is in  |
|          |          | it; "yes" and "the second one" are read as typed                      |
| act      | slots    | the company's API gets the slot values a form collected (an order     |
|          |          | number, which redaction keeps) and the verified customer id only     |
| escalate | raw      | the rules match the customer's own words ("lawyer")                   |
| record   | redacted | nothing personal is logged, the bot's reply included (an answer may  |
|          |          | carry the customer's own e-mail address)                              |
| the turn | raw      | the customer is shown the reply with their own details in it         |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.actions.runner import ActionResult, unanswered
from bot.actions.runner import Outcome as ActionOutcome
from bot.actions.spec import ActionCatalog
from bot.conversation.escalation import PRIORITIES, EscalationRules, Situation
from bot.conversation.forms import (
    ActionRequest,
    Ask,
    form_move,
    learnt_slots,
    proof_slots,
    state_after,
)
from bot.conversation.model_text import for_the_model
from bot.conversation.policy import (
    ANSWERING,
    Action,
    Decision,
    DialogueState,
    Thresholds,
    decide,
    is_greeting,
    is_no,
    is_yes,
    next_state,
    observed,
)
from bot.conversation.questions import split_questions
from bot.conversation.redaction import redact
from bot.conversation.slots import extract_slots, is_slot_only
from bot.conversation.spelling import Speller
from bot.conversation.states import BOT_SILENT, Status, move
from bot.errors import Rejected
from finetune.reading import Prediction
from retrieval.knowledge_base import KnowledgeBase
from retrieval.retriever import EntryHit

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
OPEN_TOPIC_REPLY = ' Last time you asked "{topic}". Is that sorted now?'
OFFER_PERSON_AFTER_ACTION = "Would you like me to connect you with a person?"
# A message's further questions, after the answer to its first.
OTHER_QUESTION_REPLY = "About “{question}”: {answer}"
OTHER_UNSURE_REPLY = (
    "About “{question}”: I'm not sure I understood that part. Could you ask it another way?"
)
# The decisions stored with replies that are not the policy's own (bot/conversation/policy.py).
HANDOFF = "handoff"  # the conversation is handed to people
FORM = "form"  # a form asks for a detail, or a write action asks for a yes
ACTION = "action"  # the company's API answered (found or not found)
ACTION_FAILED = "action_failed"  # the API failed, or the customer may not use the action


@dataclass(frozen=True)
class TurnContext:
    """What the turn knows before the message: the conversation and the customer."""

    conversation_id: str
    customer_id: int
    status: Status
    slots: Mapping[str, str]  # what this conversation has learnt (the order number, …)
    dialogue: DialogueState
    customer_name: str | None
    customer_email: str | None
    facts: Mapping[str, Any]  # what escalation rules and answer variants may ask of the customer
    # The customer's id as the company's site vouched for it (signed), which actions give the
    # company's API; None for anonymous visitors and for ids nobody signed.
    verified_customer_id: str | None = None

    @property
    def bot_silent(self) -> bool:
        """A person is waited for or has the conversation: the message is for them."""
        return self.status in BOT_SILENT


@dataclass(frozen=True)
class Heard:
    """The message as the customer typed it and as it will be stored."""

    text: str  # raw (stripped)
    redacted: str  # as stored
    for_the_model: str  # as the model reads it: redacted, emoji as words, misspellings corrected
    found: Mapping[str, str]  # slot values stated in this message
    slots: Mapping[str, str]  # the conversation's slots, with this message's order number
    profile_changes: Mapping[str, str]  # customer columns to update ("email", "name")
    known: Mapping[str, str | None]  # the slot values an answer may be filled with
    corrections: Mapping[str, str] = field(default_factory=dict)  # {as typed: as read}
    # The questions in the message as the model reads them, one forward pass each.
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """What the model makes of one question: its prediction (None without an NLU bundle) and the
    knowledge-base entries closest to it, best first."""

    prediction: Prediction | None
    hits: list[EntryHit]
    text: str = ""  # what the model read
    # The entry whose question a follow-up was read after ("and to Scotland?"), if it was.
    topic: str | None = None

    @property
    def sentiment(self) -> str | None:
        return self.prediction.sentiment if self.prediction else None

    def columns(self) -> dict[str, Any]:
        """The customer message's columns that record the reading."""
        if self.prediction is None:
            return {}
        return {
            "intent": self.prediction.intent,
            "intent_confidence": self.prediction.intent_confidence,
            "out_of_scope": self.prediction.out_of_scope,
            "sentiment": self.prediction.sentiment,
            "sentiment_score": self.prediction.sentiment_score,
        }


@dataclass(frozen=True)
class OtherAnswer:
    """A further question of the message, and what the bot made of it."""

    reading: Reading
    decision: Decision


@dataclass(frozen=True)
class BotReply:
    text: str  # as the customer sees it: unredacted
    decision: str  # an Action's value, or HANDOFF
    reason: str  # why, in words a person reads in the console
    entry_id: str | None
    score: float | None
    accepted_person: bool  # the customer said yes to the offer of a person


@dataclass(frozen=True)
class Handoff:
    """The conversation goes to people: where it waits, how urgently, and which rules said so."""

    queue: str
    priority: int
    high_value: bool
    reason: str
    firings: tuple[Mapping[str, str], ...]  # {"rule": name, "why": what matched}


@dataclass(frozen=True)
class Outcome:
    """What the turn decided, ready to be recorded."""

    reply: BotReply | None  # None while the bot is silent (a person is waited for or has it)
    handoff: Handoff | None
    dialogue: DialogueState  # what the conversation remembers after this message
    action: ActionRequest | None = None  # an action to run before the reply is final (act)
    result: ActionResult | None = None  # what the action's call gave, to record
    proof_check: ActionResult | None = None  # the check of a guest's proof of who they are
    slots: Mapping[str, str] = field(default_factory=dict)  # what a form learnt, to keep
    # The message answered the bot's own question (a detail, a yes or a no): what the model
    # reads as its intent ("yes please" as asking for a person) means nothing then.
    answered_form: bool = False
    others: tuple[OtherAnswer, ...] = ()  # the message's further questions, answered or not


def admit(text: str, max_chars: int) -> str:
    """The message, stripped, if it may be taken; else Rejected saying what is allowed."""
    stripped = text.strip()
    if not stripped:
        raise Rejected("the message is empty")
    if len(stripped) > max_chars:
        raise Rejected(
            f"the message has {len(stripped)} characters; at most {max_chars} are allowed"
        )
    return stripped


def hear(text: str, context: TurnContext, speller: Speller) -> Heard:
    """Slots and profile facts stated in the message, the text to store and the questions the
    model is to read in it."""
    found = extract_slots(text)
    slots = {**context.slots, **({"order_id": found["order_id"]} if "order_id" in found else {})}
    changes = profile_changes(found, context)
    known = {
        "customer_name": changes.get("name", context.customer_name),
        "email": changes.get("email", context.customer_email),
        "order_id": slots.get("order_id"),
    }
    redacted = redact(text)
    corrected = speller.correct(for_the_model(redacted))
    return Heard(
        text,
        redacted,
        corrected.text,
        found,
        slots,
        changes,
        known,
        corrected.corrections,
        tuple(split_questions(corrected.text)),
    )


def profile_changes(found: Mapping[str, str], context: TurnContext) -> dict[str, str]:
    """Profile fields to update from what the customer just said: a new e-mail address always,
    a name only if we had none (the site's own record of the name wins)."""
    changes = {}
    if "email" in found and found["email"] != context.customer_email:
        changes["email"] = found["email"]
    if "customer_name" in found and not context.customer_name:
        changes["name"] = found["customer_name"]
    return changes


def respond(
    heard: Heard,
    reading: Reading,
    context: TurnContext,
    thresholds: Thresholds,
    knowledge_base: KnowledgeBase,
    actions: ActionCatalog,
) -> Outcome:
    """Decide and word the bot's reply, or go on with a form (ask for a detail, ask for a yes,
    or an action to run); while people have the conversation, only note the customer's mood."""
    if context.bot_silent:
        return Outcome(None, None, observed(context.dialogue, reading.sentiment))
    decision = decide(
        heard.text,
        reading.prediction,
        reading.hits,
        context.dialogue,
        thresholds,
        slot_only=is_slot_only(heard.text, heard.found),
    )
    after = next_state(context.dialogue, decision, reading.sentiment)
    reply = word(decision, heard, context, knowledge_base)
    proof = proof_slots(actions, vouched_for=context.verified_customer_id is not None)
    email = heard.known.get("email")
    known = {**heard.slots, **({"email": email} if proof and email else {})}
    move = form_move(decision, heard.text, context.dialogue, known, actions, proof, context.slots)
    after = state_after(after, move)
    if move is None:
        return Outcome(reply, None, after)
    if not (isinstance(move, Ask) and move.again):
        after = replace(after, fallbacks=0)  # the bot understood: it is going on with a form
    learnt = learnt_slots(move)
    answered_form = context.dialogue.pending_action == move.spec.name
    if isinstance(move, ActionRequest):
        why = f"action {move.spec.name} with {dict(move.slots)}"
        reply = replace(reply, decision=ACTION, reason=why)
        return Outcome(reply, None, after, move, slots=learnt, answered_form=answered_form)
    why = f"form {move.spec.name}: {type(move).__name__.lower()}"
    reply = replace(reply, text=move.text, decision=FORM, reason=why)
    return Outcome(reply, None, after, slots=learnt, answered_form=answered_form)


def topic_question(
    heard: Heard,
    reading: Reading,
    context: TurnContext,
    thresholds: Thresholds,
    knowledge_base: KnowledgeBase,
) -> str | None:
    """The conversation's topic, as the question of the entry that answered last, when a
    one-question message cannot be answered on its own and is to be read again after it: "and
    to Scotland?" after delivery times, "this is ridiculous, I've waited 3 weeks" after a
    refund's status. None for a message whose intent the model is sure of, and for one that
    answers the bot's own question (a detail, a choice, a yes or a no)."""
    state = context.dialogue
    topic = state.last_entry_id
    if context.bot_silent or len(heard.questions) != 1:
        return None
    if topic is None or topic not in knowledge_base:
        return None
    if state.pending_action or state.clarify_options or is_yes(heard.text) or is_no(heard.text):
        return None
    if is_slot_only(heard.text, heard.found):
        return None
    prediction = reading.prediction
    if (
        prediction
        and not prediction.out_of_scope
        and prediction.intent_confidence >= thresholds.intent
    ):
        return None  # the model knows what it is ("I want a real person"), answered or not
    decision = decide(heard.text, prediction, reading.hits, state, thresholds)
    if decision.action in ANSWERING:
        return None
    return knowledge_base[topic].questions[0]


def on_topic(
    alone: Reading, after_topic: Reading, context: TurnContext, thresholds: Thresholds
) -> Reading:
    """The reading read after the topic if it is answered by another entry than the topic's,
    else the message's own: "and to Scotland?" finds the Scotland entry, but "blorp again"
    read after delivery times would only find delivery times again, which says nothing new."""
    decision = decide("", after_topic.prediction, after_topic.hits, context.dialogue, thresholds)
    topic = context.dialogue.last_entry_id
    if decision.action in ANSWERING and decision.entry is not None and decision.entry.id != topic:
        return replace(after_topic, topic=topic)
    return alone


def other_answers(
    outcome: Outcome,
    heard: Heard,
    others: list[Reading],
    context: TurnContext,
    thresholds: Thresholds,
) -> Outcome:
    """The reply with an answer to each further question of the message after the first
    ("… and can I pay with PayPal?"), each decided on its own; a question the bot cannot answer
    is named, so the customer knows to ask it again."""
    if outcome.reply is None or not others:
        return outcome
    answered_ids = {outcome.reply.entry_id}
    texts = [outcome.reply.text]
    decided = []
    # The questions as the customer asked them; the readings may hold the question before too.
    for question, reading in zip(heard.questions[1:], others, strict=True):
        decision = decide(question, reading.prediction, reading.hits, DialogueState(), thresholds)
        decided.append(OtherAnswer(reading, decision))
        if decision.action not in ANSWERING or decision.entry is None:
            texts.append(OTHER_UNSURE_REPLY.format(question=question))
        elif decision.entry.id not in answered_ids:
            answered_ids.add(decision.entry.id)
            answer = decision.entry.render(dict(heard.known), dict(context.facts))
            texts.append(OTHER_QUESTION_REPLY.format(question=question, answer=answer))
    why = f"{outcome.reply.reason}; and {len(others)} more question(s), each read on its own"
    reply = replace(outcome.reply, text="\n\n".join(texts), reason=why)
    return replace(outcome, reply=reply, others=tuple(decided))


def not_allowed(request: ActionRequest) -> ActionResult:
    """The result of an action this customer may not use (nobody vouched for who they are), made
    without calling the company's API."""
    return unanswered(
        request.spec, ActionOutcome.NOT_ALLOWED, request.slots, error="no verified customer"
    )


def answered(outcome: Outcome, result: ActionResult) -> Outcome:
    """The reply worded from the action's result; when the company's API failed or the customer
    may not use the action, a person is offered (a "yes" next takes it)."""
    assert outcome.reply is not None
    text, decision, dialogue = result.text, ACTION, outcome.dialogue
    if result.outcome in (ActionOutcome.FAILED, ActionOutcome.NOT_ALLOWED):
        text = f"{text} {OFFER_PERSON_AFTER_ACTION}"
        decision = ACTION_FAILED
        dialogue = replace(dialogue, offered_person=True)
    status = f", HTTP {result.status_code}" if result.status_code is not None else ""
    why = f"action {result.action}: {result.outcome}{status}, {result.latency_ms:.0f} ms"
    reply = replace(outcome.reply, text=text, decision=decision, reason=why)
    return replace(outcome, reply=reply, dialogue=dialogue, result=result)


def word(
    decision: Decision, heard: Heard, context: TurnContext, knowledge_base: KnowledgeBase
) -> BotReply:
    """The reply to a decision, its slots filled; a greeting from a returning customer whose
    last question was left open is reminded of it, once."""
    text = reply_text(decision, heard.known, heard.found, context.facts)
    reason = decision.reason
    topic = context.dialogue.open_topic
    if is_greeting(decision) and topic is not None and topic in knowledge_base:
        text += OPEN_TOPIC_REPLY.format(topic=knowledge_base[topic].questions[0])
        reason += f"; reminded of the open topic {topic}"
    return BotReply(
        text=text,
        decision=decision.action.value,
        reason=reason,
        entry_id=decision.entry.id if decision.entry else None,
        score=decision.score,
        accepted_person=decision.accepted_person,
    )


def reply_text(
    decision: Decision,
    known: Mapping[str, str | None],
    found: Mapping[str, str],
    facts: Mapping[str, Any],
) -> str:
    if decision.action in ANSWERING:
        assert decision.entry is not None
        return decision.entry.render(dict(known), dict(facts))
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


def escalate(
    outcome: Outcome,
    heard: Heard,
    reading: Reading,
    context: TurnContext,
    rules: EscalationRules,
) -> Outcome:
    """The outcome, or the hand-over to people when a rule fires, naming every rule that did."""
    if outcome.reply is None:
        return outcome
    fired = rules.fire(
        Situation(
            text=heard.text,
            intent=(
                reading.prediction.intent
                if reading.prediction and not outcome.answered_form
                else None
            ),
            sentiment=reading.sentiment,
            accepted_person=outcome.reply.accepted_person,
            negative_streak=outcome.dialogue.negative_streak,
            fallbacks=outcome.dialogue.fallbacks,
            profile=dict(context.facts),
        )
    )
    if not fired:
        return outcome
    top = max((rule for rule, _ in fired), key=lambda rule: PRIORITIES[rule.priority])
    handoff = Handoff(
        queue=top.queue,
        priority=PRIORITIES[top.priority],
        high_value=rules.is_high_value(dict(context.facts)),
        reason="; ".join(rule.reason for rule, _ in fired),
        firings=tuple({"rule": firing.rule, "why": firing.why} for _, firing in fired),
    )
    why = "escalated: " + "; ".join(f"{f.rule} ({f.why})" for _, f in fired)
    reply = replace(outcome.reply, text=HANDOFF_REPLY, decision=HANDOFF, reason=why)
    # Whatever form was going on, people take it from here.
    return replace(
        outcome, reply=reply, handoff=handoff, dialogue=state_after(outcome.dialogue, None)
    )


def question_records(heard: Heard, reading: Reading, outcome: Outcome) -> list[dict[str, Any]]:
    """Each question of the message as the model read it and what answered it, as stored with
    the message (bot.storage.models.Message.questions) for staff to see."""
    reply = outcome.reply
    first = {
        **_read_as(reading, heard.corrections),
        "entry_id": reply.entry_id if reply else None,
        "score": reply.score if reply else None,
        "decision": reply.decision if reply else None,
        "reason": reply.reason if reply else None,
    }
    others = [
        {
            **_read_as(other.reading, heard.corrections),
            "entry_id": other.decision.entry.id if other.decision.entry else None,
            "score": other.decision.score,
            "decision": other.decision.action.value,
            "reason": other.decision.reason,
        }
        for other in outcome.others
    ]
    return [first, *others]


def _read_as(reading: Reading, corrections: Mapping[str, str]) -> dict[str, Any]:
    """What the model read in one question, and which of the message's corrections it holds."""
    prediction = reading.prediction
    return {
        "text": reading.text,
        "corrections": {typed: read for typed, read in corrections.items() if read in reading.text},
        "topic": reading.topic,
        "intent": prediction.intent if prediction else None,
        "intent_confidence": prediction.intent_confidence if prediction else None,
        "out_of_scope": prediction.out_of_scope if prediction else None,
        "sentiment": prediction.sentiment if prediction else None,
    }


def conversation_changes(
    context: TurnContext, heard: Heard, outcome: Outcome, now: datetime
) -> dict[str, Any]:
    """The conversation's columns to write after the turn."""
    changes: dict[str, Any] = {"last_message_at": now, "dialogue": outcome.dialogue.stored()}
    # What a form learnt is kept too: "when will it arrive?" next uses the same order.
    slots = {**heard.slots, **outcome.slots}
    if slots != context.slots:
        changes["slots"] = slots
    status = context.status
    if outcome.reply is not None and status == Status.CLOSED:
        # The customer wrote to a closed conversation: the bot takes it up again.
        status = changes["status"] = move(status, Status.BOT)
    if outcome.handoff is not None:
        changes.update(
            status=move(status, Status.WAITING),
            queue=outcome.handoff.queue,
            priority=outcome.handoff.priority,
            high_value=outcome.handoff.high_value,
            waiting_since=now,
        )
    return changes
