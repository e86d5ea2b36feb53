"""The dialogue policy: what the bot does with a message, and why.

Pure logic over what the model read, what retrieval found and what the conversation remembers;
no database, no web. Every decision carries a reason a person can read in the console.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from finetune.reading import OOS_LABEL, Prediction
from retrieval.knowledge_base import Entry
from retrieval.retriever import EntryHit


class Action(StrEnum):
    INTENT = "intent"  # answered from the confident intent's closest entry
    ANSWER = "answer"  # answered from the best retrieved entry
    CLARIFY = "clarify"  # asked which of the two closest topics was meant
    SLOT_NOTED = "slot_noted"  # the message only gave a detail (an order number)
    OUT_OF_SCOPE = "out_of_scope"
    NOT_SURE = "not_sure"
    OFFER_PERSON = "offer_person"


ANSWERING = frozenset({Action.INTENT, Action.ANSWER})

# Two candidate entries of different intents whose scores are this close are a coin toss:
# asking is better than guessing.
CLARIFY_MARGIN = 0.04
# How far above the answering threshold retrieval must score to overrule the model's "out of
# scope": retrieval alone passes the threshold for 11% of CLINC150's out-of-scope questions.
DISAGREEMENT_MARGIN = 0.1
# How far ahead of every other topic such an entry must be to answer without asking.
CLEAR_LEAD = 0.1
# The model's out-of-scope class this sure is not overruled by retrieval alone.
SURE_OUT_OF_SCOPE = 0.8
# After this many turns in a row the bot could not answer, it offers a person.
FALLBACKS_BEFORE_OFFER = 2

_CHOICE_WORDS = {"1": 0, "first": 0, "one": 0, "2": 1, "second": 1, "two": 1, "other": 1}
_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|sure|ok(ay)?|please( do)?|go ahead|yes,? please|please,? yes)\b",
    re.IGNORECASE,
)


_NO = re.compile(
    r"^\s*(no|nope|nah|don'?t|do not|cancel|stop|not now|never ?mind)\b", re.IGNORECASE
)


def is_yes(text: str) -> bool:
    return _YES.match(text) is not None


def is_no(text: str) -> bool:
    return _NO.match(text) is not None


@dataclass(frozen=True)
class DialogueState:
    """What the conversation remembers between turns (stored as JSON on the conversation)."""

    fallbacks: int = 0  # turns in a row the bot could not answer
    last_entry_id: str | None = None  # the last entry that answered
    clarify_options: tuple[str, ...] = ()  # entry ids offered by the last clarifying question
    offered_person: bool = False  # the last reply offered a person
    negative_streak: int = 0  # customer messages in a row read as negative
    # A returning customer's topic the last conversation left unanswered, mentioned once when
    # they greet the bot.
    open_topic: str | None = None
    # A form in progress (bot/conversation/forms.py): the action waiting for a detail, the slot
    # asked for, and whether it was asked a second time already.
    pending_action: str | None = None
    asked_slot: str | None = None
    asked_again: bool = False
    confirming: bool = False  # a write action said what it will do and waits for a yes
    # The customer id the company's API gave for an order number and its e-mail address: the
    # customer proved who they are in this conversation.
    proven_customer_id: str | None = None

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> DialogueState:
        if not stored:
            return cls()
        known = {name: stored[name] for name in cls.__dataclass_fields__ if name in stored}
        if "clarify_options" in known:
            known["clarify_options"] = tuple(known["clarify_options"])
        return cls(**known)

    def stored(self) -> dict[str, Any]:
        values = asdict(self)
        values["clarify_options"] = list(self.clarify_options)
        return values


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    entry: Entry | None = None  # the entry that answers (or the nearest one, for the record)
    score: float | None = None
    options: tuple[Entry, ...] = field(default=())  # the topics a clarifying question offers
    accepted_person: bool = False  # the customer said yes to the offer of a person


@dataclass(frozen=True)
class Thresholds:
    intent: float  # calibrated intent confidence from which the intent decides
    answer: float  # cosine similarity from which retrieval alone answers


def _follow_up(
    text: str, hits: list[EntryHit], state: DialogueState, slot_only: bool
) -> Decision | None:
    """The move when the message answers the bot's last turn: yes to the offer of a person, a
    choice between the clarifying question's topics, or a detail for the previous answer."""
    if state.offered_person and _YES.match(text):
        return Decision(
            Action.OFFER_PERSON,
            "the customer accepted the offer of a person",
            accepted_person=True,
        )
    chosen = _clarification_choice(text, hits, state)
    if chosen is not None:
        return Decision(
            Action.ANSWER,
            f"the customer chose {chosen.entry.id!r} from the clarifying question",
            chosen.entry,
            chosen.score,
        )
    if slot_only:
        if state.last_entry_id is not None:
            last = next((hit for hit in hits if hit.entry.id == state.last_entry_id), None)
            if last is not None:
                return Decision(
                    Action.ANSWER,
                    f"a detail for the previous answer {last.entry.id!r}; answered again with it",
                    last.entry,
                    last.score,
                )
        return Decision(Action.SLOT_NOTED, "the message only gave a detail; asked what it is for")
    return None


def decide(
    text: str,
    prediction: Prediction | None,
    hits: list[EntryHit],
    state: DialogueState,
    thresholds: Thresholds,
    slot_only: bool = False,
) -> Decision:
    """The bot's move for one customer message. ``hits`` are knowledge-base entries, best first;
    ``slot_only`` says the message did nothing but give a detail such as an order number."""
    follow_up = _follow_up(text, hits, state, slot_only)
    if follow_up is not None:
        return follow_up
    best = hits[0] if hits else None

    if prediction is not None and prediction.out_of_scope:
        covered = _covered_anyway(prediction, hits, thresholds)
        if covered is not None:
            return covered
        return _unanswered(
            Action.OUT_OF_SCOPE,
            f"out of scope (intent {prediction.intent} at {prediction.intent_confidence:.2f})",
            state,
            best,
        )
    if prediction is not None and prediction.intent_confidence >= thresholds.intent:
        own = next((hit for hit in hits if hit.entry.intent == prediction.intent), None)
        if own is not None:
            return Decision(
                Action.INTENT,
                f"intent {prediction.intent} at {prediction.intent_confidence:.2f} "
                f">= {thresholds.intent:.2f}; its closest entry",
                own.entry,
                own.score,
            )
    if best is not None and best.score >= thresholds.answer:
        rival = next((hit for hit in hits[1:] if hit.entry.intent != best.entry.intent), None)
        if rival is not None and best.score - rival.score < CLARIFY_MARGIN:
            return Decision(
                Action.CLARIFY,
                f"{best.entry.id!r} ({best.score:.2f}) and {rival.entry.id!r} "
                f"({rival.score:.2f}) are too close to choose",
                best.entry,
                best.score,
                options=(best.entry, rival.entry),
            )
        return Decision(
            Action.ANSWER,
            f"retrieval: {best.entry.id!r} at {best.score:.2f} >= {thresholds.answer:.2f}"
            + (
                f" (intent {prediction.intent} only {prediction.intent_confidence:.2f})"
                if prediction is not None
                else ""
            ),
            best.entry,
            best.score,
        )
    score = f"{best.score:.2f}" if best is not None else "none"
    return _unanswered(
        Action.NOT_SURE,
        f"no confident intent and the best entry scores {score} < {thresholds.answer:.2f}",
        state,
        best,
    )


def _covered_anyway(
    prediction: Prediction, hits: list[EntryHit], thresholds: Thresholds
) -> Decision | None:
    """No confident refusal of a topic the knowledge base covers. The model said out of scope,
    but:
    - its own best intent is that of the best entry, which passes the answering threshold
      ("Sending it straight to my dad, please don't put the price in the box": invoice at 0.38,
      the gift-receipt entry at 0.51): both signals agree, so answer;
    - or, unless the model is sure the message is off-topic (its out-of-scope class at 0.8 or
      more: "what is the boiling point of mercury"), an entry is clearly close ("what time do
      you close today" and the opening hours at 0.78): answer when it is well ahead of any
      other topic, else ask which of the two was meant.
    None when out of scope stands."""
    if not hits or hits[0].score < thresholds.answer:
        return None
    best = hits[0]
    said = (
        f"the model said out of scope ({prediction.intent} at {prediction.intent_confidence:.2f})"
    )
    if best.entry.intent == prediction.intent:
        return Decision(
            Action.ANSWER,
            f"{said}, but its intent and retrieval agree on {best.entry.id!r} ({best.score:.2f})",
            best.entry,
            best.score,
        )
    sure_off_topic = (
        prediction.intent == OOS_LABEL and prediction.intent_confidence >= SURE_OUT_OF_SCOPE
    )
    if sure_off_topic or best.score < thresholds.answer + DISAGREEMENT_MARGIN:
        return None
    rival = next((hit for hit in hits[1:] if hit.entry.intent != best.entry.intent), None)
    if rival is None or best.score - rival.score >= CLEAR_LEAD:
        ahead = f"{rival.entry.id!r}, {rival.score:.2f}" if rival else "none"
        return Decision(
            Action.ANSWER,
            f"{said}, but retrieval found {best.entry.id!r} ({best.score:.2f}) well ahead of "
            f"any other topic ({ahead})",
            best.entry,
            best.score,
        )
    return Decision(
        Action.CLARIFY,
        f"{said}, but retrieval found {best.entry.id!r} ({best.score:.2f}); asked between it "
        f"and {rival.entry.id!r} ({rival.score:.2f}) instead of refusing",
        best.entry,
        best.score,
        options=(best.entry, rival.entry),
    )


def _unanswered(
    action: Action, reason: str, state: DialogueState, nearest: EntryHit | None
) -> Decision:
    entry, score = (nearest.entry, nearest.score) if nearest is not None else (None, None)
    if state.fallbacks + 1 >= FALLBACKS_BEFORE_OFFER:
        return Decision(
            Action.OFFER_PERSON,
            f"{reason}; {state.fallbacks + 1} turns in a row unanswered, so a person is offered",
            entry,
            score,
        )
    return Decision(action, reason, entry, score)


def _clarification_choice(text: str, hits: list[EntryHit], state: DialogueState) -> EntryHit | None:
    """The option the customer picked after a clarifying question, if they picked one."""
    if not state.clarify_options:
        return None
    by_id = {hit.entry.id: hit for hit in hits}
    words = re.findall(r"[a-z0-9]+", text.lower())
    for word in words[:4]:
        if word in _CHOICE_WORDS and _CHOICE_WORDS[word] < len(state.clarify_options):
            picked = by_id.get(state.clarify_options[_CHOICE_WORDS[word]])
            if picked is not None:
                return picked
    # Or they said it in their own words: the best hit is one of the options.
    if hits and hits[0].entry.id in state.clarify_options:
        return hits[0]
    return None


def next_state(state: DialogueState, decision: Decision, sentiment: str | None) -> DialogueState:
    """The conversation's memory after this turn."""
    answered = decision.action in ANSWERING
    if answered or decision.action is Action.CLARIFY:
        fallbacks = 0
    elif decision.action is Action.SLOT_NOTED:
        fallbacks = state.fallbacks  # a detail given is not a question missed
    else:
        fallbacks = state.fallbacks + 1
    return replace(
        state,
        fallbacks=fallbacks,
        last_entry_id=decision.entry.id if answered and decision.entry else state.last_entry_id,
        clarify_options=(
            tuple(entry.id for entry in decision.options)
            if decision.action is Action.CLARIFY
            else ()
        ),
        offered_person=decision.action is Action.OFFER_PERSON and not decision.accepted_person,
        open_topic=None if is_greeting(decision) else state.open_topic,
        negative_streak=observed(state, sentiment).negative_streak,
    )


def observed(state: DialogueState, sentiment: str | None) -> DialogueState:
    """The memory after a message the bot did not answer (a person has the conversation)."""
    return replace(
        state, negative_streak=state.negative_streak + 1 if sentiment == "negative" else 0
    )


SMALL_TALK = frozenset({"greeting", "thanks", "goodbye"})


def is_greeting(decision: Decision) -> bool:
    return (
        decision.action in ANSWERING
        and decision.entry is not None
        and (decision.entry.intent == "greeting")
    )
