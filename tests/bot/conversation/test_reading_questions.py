"""How a message is read before the policy decides: misspellings corrected, its questions
split and answered one by one, a follow-up read after the conversation's topic, and no refusal
of a topic the knowledge base covers. Pure steps: no database and no model."""

from __future__ import annotations

import pytest

from bot.actions.spec import ActionCatalog
from bot.conversation.policy import Action, DialogueState, Thresholds, decide
from bot.conversation.questions import in_context, split_questions, with_topic
from bot.conversation.spelling import Speller, is_slip
from bot.conversation.states import Status
from bot.conversation.turn import (
    OTHER_UNSURE_REPLY,
    Outcome,
    Reading,
    TurnContext,
    hear,
    on_topic,
    other_answers,
    question_records,
    respond,
    topic_question,
)
from finetune.reading import Prediction
from retrieval.knowledge_base import Entry, KnowledgeBase
from retrieval.retriever import EntryHit

DELIVERY = Entry(
    "delivery_time.uk",
    "delivery_time",
    ("How long does delivery take?",),
    "UK delivery of an order takes 3-5 working days.",
)
SCOTLAND = Entry(
    "delivery_time.scotland",
    "delivery_time",
    ("How long is delivery to Scotland?",),
    "Mainland Scotland takes 3-5 working days too.",
)
PAYPAL = Entry(
    "payment_methods.accepted",
    "payment_methods",
    ("Can I pay with PayPal?",),
    "We take cards, PayPal, Apple Pay and Klarna.",
)
RETURNS = Entry(
    "return_policy.window",
    "return_policy",
    ("Can I send something back?", "What is your returns policy for a voucher?"),
    "You have 30 days to return an item.",
)
KB = KnowledgeBase((DELIVERY, SCOTLAND, PAYPAL, RETURNS), content_hash="test")
LIMITS = Thresholds(intent=0.6, answer=0.45)
SPELLER = Speller.of(KB)


def context(**changes: object) -> TurnContext:
    values: dict[str, object] = {
        "conversation_id": "c1",
        "customer_id": 7,
        "status": Status.BOT,
        "slots": {},
        "dialogue": DialogueState(),
        "customer_name": None,
        "customer_email": None,
        "facts": {},
    }
    values.update(changes)
    return TurnContext(**values)  # type: ignore[arg-type]


def read(
    text: str, intent: str, confidence: float, *hits: tuple[Entry, float], oos: bool = False
) -> Reading:
    prediction = Prediction(intent, confidence, oos, "neutral", 0.0)
    return Reading(prediction, [EntryHit(entry, score) for entry, score in hits], text)


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        ("wher is my oder", "where is my order"),
        ("who's your delivery artner", "who's your delivery partner"),
        ("I want to gte a refund", "I want to get a refund"),
        ("Delivrey to Scotland", "Delivery to Scotland"),
        ("the vouhcer isnt being accepted", "the voucher isn't being accepted"),
        ("can i get a refnd pls", "can i get a refund please"),
        ("u guys r useless", "you guys are useless"),
        ("this is ridiculous, I've waited 3 weeks", "this is ridiculous, I've waited 3 weeks"),
        ("send BC-204518 to [email] in Edinburgh", "send BC-204518 to [email] in Edinburgh"),
    ],
)
def test_misspelt_words_are_read_as_the_words_meant_and_real_words_stay(
    typed: str, read_as: str
) -> None:
    assert SPELLER.correct(typed).text == read_as


def test_a_correction_says_what_was_typed_and_what_was_read() -> None:
    # "oder" is one slip from "over" and "older" as well: the company's own word wins.
    assert SPELLER.correct("wher is my oder").corrections == {"wher": "where", "oder": "order"}
    assert SPELLER.correct("where is my order").corrections == {}


def test_a_slip_is_a_dropped_doubled_swapped_or_neighbouring_key() -> None:
    assert is_slip("oder", "order")  # dropped
    assert is_slip("orrder", "order")  # doubled
    assert is_slip("roder", "order")  # swapped
    assert is_slip("ordwr", "order")  # w is next to e
    assert not is_slip("ordpr", "order")  # p is nowhere near e
    assert not is_slip("over", "order")


def test_a_further_question_that_points_back_is_read_after_the_one_before() -> None:
    assert in_context(["how do the points work", "do they run out"]) == [
        "how do the points work",
        "how do the points work? do they run out",
    ]
    assert in_context(["how long does delivery take", "can I pay with PayPal?"]) == [
        "how long does delivery take",
        "can I pay with PayPal?",
    ]


@pytest.mark.parametrize(
    ("message", "questions"),
    [
        (
            "how long does delivery take, and can I pay with PayPal?",
            ["how long does delivery take", "can I pay with PayPal?"],
        ),
        (
            "how do i return something and how long do refunds take",
            ["how do i return something", "how long do refunds take"],
        ),
        ("Where is my order? When will it arrive?", ["Where is my order?", "When will it arrive?"]),
        # Not questions on both sides: one message.
        ("my kettle arrived broken, can I get a refund?", None),
        ("where is my refund? this is ridiculous", None),
        ("can I cancel and get a refund", None),
        ("ok and what about scotland?", None),
        # "also" opens a second topic after a statement of the first.
        (
            "i forgot my password, also how do i change my email address",
            ["i forgot my password", "how do i change my email address"],
        ),
        ("I also want to know how returns work", None),
    ],
)
def test_a_message_is_split_where_each_part_is_a_question(
    message: str, questions: list[str] | None
) -> None:
    assert split_questions(message) == (questions or [message])


def test_two_questions_get_two_answers_each_with_its_own_reading() -> None:
    ctx = context()
    heard = hear("how long does delivery take, and can I pay with PayPal?", ctx, SPELLER)
    assert heard.questions == ("how long does delivery take", "can I pay with PayPal?")
    first = read(heard.questions[0], "delivery_time", 0.95, (DELIVERY, 0.8), (SCOTLAND, 0.78))
    second = read(heard.questions[1], "payment_methods", 0.97, (PAYPAL, 0.9))
    outcome = respond(heard, first, ctx, LIMITS, KB, ActionCatalog())
    outcome = other_answers(outcome, heard, [second], ctx, LIMITS)
    assert outcome.reply is not None
    assert outcome.reply.text.startswith(DELIVERY.answer)
    assert "About “can I pay with PayPal?”: We take cards, PayPal" in outcome.reply.text
    records = question_records(heard, first, outcome)
    assert [(r["text"], r["intent"], r["entry_id"]) for r in records] == [
        ("how long does delivery take", "delivery_time", DELIVERY.id),
        ("can I pay with PayPal?", "payment_methods", PAYPAL.id),
    ]


def test_a_further_question_the_bot_cannot_answer_is_named_not_dropped() -> None:
    ctx = context()
    heard = hear("can I pay with PayPal? what is the meaning of life?", ctx, SPELLER)
    first = read(heard.questions[0], "payment_methods", 0.97, (PAYPAL, 0.9))
    second = read(heard.questions[1], "oos", 0.9, (RETURNS, 0.2), oos=True)
    outcome = other_answers(
        respond(heard, first, ctx, LIMITS, KB, ActionCatalog()), heard, [second], ctx, LIMITS
    )
    assert outcome.reply is not None
    assert OTHER_UNSURE_REPLY.format(question="what is the meaning of life?") in outcome.reply.text
    assert question_records(heard, first, outcome)[1]["decision"] == "out_of_scope"


def test_a_follow_up_is_read_after_the_topic_when_it_cannot_be_answered_alone() -> None:
    ctx = context(dialogue=DialogueState(last_entry_id=DELIVERY.id))
    heard = hear("and to Scotland?", ctx, SPELLER)
    alone = read(heard.questions[0], "oos", 0.5, (DELIVERY, 0.3), oos=True)
    topic = topic_question(heard, alone, ctx, LIMITS, KB)
    assert topic == "How long does delivery take?"
    assert with_topic(topic, alone.text) == "How long does delivery take? and to Scotland?"
    after = read(with_topic(topic, alone.text), "delivery_time", 0.9, (SCOTLAND, 0.8))
    chosen = on_topic(alone, after, ctx, LIMITS)
    assert chosen.topic == DELIVERY.id
    outcome = respond(heard, chosen, ctx, LIMITS, KB, ActionCatalog())
    assert outcome.reply is not None and outcome.reply.entry_id == SCOTLAND.id
    assert (
        question_records(heard, chosen, Outcome(outcome.reply, None, DialogueState()))[0]["topic"]
        == DELIVERY.id
    )


def test_a_message_answered_on_its_own_or_answering_the_bot_is_not_read_after_the_topic() -> None:
    ctx = context(dialogue=DialogueState(last_entry_id=DELIVERY.id))
    heard = hear("can I pay with PayPal?", ctx, SPELLER)
    clear = read(heard.questions[0], "payment_methods", 0.97, (PAYPAL, 0.9))
    assert topic_question(heard, clear, ctx, LIMITS, KB) is None
    unsure = read("yes", "oos", 0.4, oos=True)
    assert topic_question(hear("yes", ctx, SPELLER), unsure, ctx, LIMITS, KB) is None
    assert (
        topic_question(hear("and to Scotland?", context(), SPELLER), unsure, context(), LIMITS, KB)
        is None
    )
    # Read after the topic, it finds only the topic's own entry again: nothing new, so the
    # message's own reading stands ("blorp again" is not an answer about delivery).
    again = read("How long does delivery take? blorp", "delivery_time", 0.9, (DELIVERY, 0.8))
    assert on_topic(unsure, again, ctx, LIMITS) is unsure
    # Read after the topic and still not answerable: the message's own reading stands.
    after = read("How long does delivery take? blah", "oos", 0.3, oos=True)
    assert on_topic(unsure, after, ctx, LIMITS) is unsure


def test_no_refusal_of_a_topic_the_knowledge_base_covers() -> None:
    said_oos = Prediction("return_policy", 0.4, True, "neutral", 0.0)
    # The model's best intent agrees with the entry retrieval found well above the threshold.
    hits = [EntryHit(RETURNS, 0.66), EntryHit(PAYPAL, 0.3)]
    decision = decide(
        "I'd like to send back some headphones", said_oos, hits, DialogueState(), LIMITS
    )
    assert decision.action is Action.ANSWER and decision.entry == RETURNS
    # They disagree, and another topic is close behind: ask, don't refuse.
    other = Prediction("payment_methods", 0.4, True, "neutral", 0.0)
    close = [EntryHit(RETURNS, 0.66), EntryHit(PAYPAL, 0.6)]
    decision = decide("send back headphones", other, close, DialogueState(), LIMITS)
    assert decision.action is Action.CLARIFY and decision.options == (RETURNS, PAYPAL)
    # They disagree, but the entry is well ahead of any other topic: answer.
    decision = decide("send back headphones", other, hits, DialogueState(), LIMITS)
    assert decision.action is Action.ANSWER and decision.entry == RETURNS
    # Both agree, just past the answering threshold: answer.
    near = [EntryHit(RETURNS, 0.5), EntryHit(PAYPAL, 0.3)]
    assert decide("x", said_oos, near, DialogueState(), LIMITS).action is Action.ANSWER
    # They disagree and retrieval is only near the threshold: out of scope stands.
    assert decide("x", other, near, DialogueState(), LIMITS).action is Action.OUT_OF_SCOPE
    # The model is sure it is off-topic: retrieval alone does not overrule it.
    sure = Prediction("oos", 0.9, True, "neutral", 0.0)
    assert decide("boiling point of mercury", sure, hits, DialogueState(), LIMITS).action is (
        Action.OUT_OF_SCOPE
    )
