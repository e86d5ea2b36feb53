"""The dialogue policy on its own: each decision, its reason, and the memory between turns."""

from __future__ import annotations

from bot.conversation.policy import (
    Action,
    DialogueState,
    Thresholds,
    decide,
    next_state,
)
from finetune.reading import Prediction
from retrieval.knowledge_base import Entry
from retrieval.retriever import EntryHit

TRACK = Entry("track.where", "track_order", ("Where is my order?",), "It is on its way.")
LATE = Entry("track.late", "track_order", ("My order is late",), "Sorry it is late.")
RETURN = Entry("returns.how", "return_policy", ("How do I return an item?",), "Send it back.")
PAY = Entry("payment.methods", "payment_methods", ("How can I pay?",), "Cards and PayPal.")
LIMITS = Thresholds(intent=0.6, answer=0.45)


def hits(*pairs: tuple[Entry, float]) -> list[EntryHit]:
    return [EntryHit(entry, score) for entry, score in pairs]


def read(intent: str, confidence: float, out_of_scope: bool = False) -> Prediction:
    return Prediction(intent, confidence, out_of_scope, "neutral", 0.0)


def test_a_confident_intent_answers_from_its_own_closest_entry() -> None:
    found = hits((RETURN, 0.52), (LATE, 0.50), (TRACK, 0.41))
    decision = decide("it hasn't come", read("track_order", 0.91), found, DialogueState(), LIMITS)
    assert decision.action is Action.INTENT and decision.entry == LATE
    assert "track_order at 0.91" in decision.reason


def test_without_a_confident_intent_retrieval_answers_or_admits_it_is_not_sure() -> None:
    found = hits((PAY, 0.71), (RETURN, 0.40))
    decision = decide("paypal?", read("payment_methods", 0.42), found, DialogueState(), LIMITS)
    assert decision.action is Action.ANSWER and decision.entry == PAY
    assert "only 0.42" in decision.reason
    weak = hits((PAY, 0.31), (RETURN, 0.30))
    unsure = decide("hmm", read("payment_methods", 0.2), weak, DialogueState(), LIMITS)
    assert unsure.action is Action.NOT_SURE and "0.31 < 0.45" in unsure.reason
    assert unsure.entry == PAY  # the nearest entry is kept for the record


def test_two_close_topics_get_a_clarifying_question_and_the_choice_is_answered() -> None:
    found = hits((TRACK, 0.62), (RETURN, 0.60), (PAY, 0.3))
    decision = decide("my parcel", None, found, DialogueState(), LIMITS)
    assert decision.action is Action.CLARIFY and decision.options == (TRACK, RETURN)
    state = next_state(DialogueState(), decision, "neutral")
    assert state.clarify_options == ("track.where", "returns.how")

    by_number = decide("the second one", None, found, state, LIMITS)
    assert by_number.action is Action.ANSWER and by_number.entry == RETURN
    assert "chose 'returns.how'" in by_number.reason
    in_words = decide("where it is", None, hits((TRACK, 0.8), (RETURN, 0.3)), state, LIMITS)
    assert in_words.entry == TRACK
    assert next_state(state, in_words, "neutral").clarify_options == ()


def test_same_intent_entries_close_together_are_not_a_question() -> None:
    found = hits((TRACK, 0.62), (LATE, 0.61), (RETURN, 0.4))
    assert decide("order?", None, found, DialogueState(), LIMITS).action is Action.ANSWER


def test_a_detail_alone_completes_the_last_answer_or_is_acknowledged() -> None:
    found = hits((PAY, 0.3), (TRACK, 0.2))
    after_answer = DialogueState(last_entry_id="track.where")
    again = decide("it's BC-123456", None, found, after_answer, LIMITS, slot_only=True)
    assert again.action is Action.ANSWER and again.entry == TRACK
    fresh = decide("BC-123456", None, found, DialogueState(), LIMITS, slot_only=True)
    assert fresh.action is Action.SLOT_NOTED
    assert next_state(DialogueState(fallbacks=1), fresh, None).fallbacks == 1


def test_misses_in_a_row_lead_to_the_offer_of_a_person_and_a_yes_takes_it() -> None:
    nothing = hits((PAY, 0.2))
    off_topic = read("track_order", 0.3, out_of_scope=True)
    first = decide("weather?", off_topic, nothing, DialogueState(), LIMITS)
    assert first.action is Action.OUT_OF_SCOPE
    state = next_state(DialogueState(), first, "neutral")
    second = decide("and the football?", off_topic, nothing, state, LIMITS)
    assert second.action is Action.OFFER_PERSON and "2 turns in a row" in second.reason
    state = next_state(state, second, "negative")
    assert state.offered_person and state.fallbacks == 2
    yes = decide("yes please", None, nothing, state, LIMITS)
    assert yes.accepted_person and "accepted" in yes.reason
    # Without the offer, "yes" is just another message.
    assert not decide("yes please", None, nothing, DialogueState(), LIMITS).accepted_person


def test_the_state_counts_negative_messages_in_a_row_and_survives_storage() -> None:
    decision = decide("x", None, hits((PAY, 0.9)), DialogueState(), LIMITS)
    state = DialogueState()
    for sentiment in ("negative", "negative"):
        state = next_state(state, decision, sentiment)
    assert state.negative_streak == 2
    assert next_state(state, decision, "neutral").negative_streak == 0
    assert DialogueState.of(state.stored()) == state
    assert DialogueState.of(None) == DialogueState() == DialogueState.of({"unknown": 1})
