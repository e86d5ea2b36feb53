"""Forms on their own: which question comes next, when an action runs, what is kept."""

from __future__ import annotations

from bot.actions.spec import ActionCatalog, ActionSpec, Answers, HttpCall, SlotSpec
from bot.conversation.forms import (
    ActionRequest,
    Ask,
    Confirm,
    Declined,
    find_slot,
    form_move,
    learnt_slots,
    proof_slots,
    state_after,
)
from bot.conversation.policy import Action, Decision, DialogueState
from retrieval.knowledge_base import Entry

ORDER = SlotSpec(
    name="order_id",
    pattern=r"BC-?\d{6}",
    example="BC-204518",
    ask="Which order?",
    normalise="upper",
)
EMAIL = SlotSpec(
    name="email", pattern=r"[^@\s]+@[^@\s]+\.[a-z]{2,}", example="a@example.com", ask="E-mail?"
)
ANSWERS = Answers(found="ok", not_found="no {order_id}", failed="down", not_allowed="no")
STATUS = ActionSpec(
    name="order_status",
    description="where an order is",
    intents=("track_order",),
    follow_ups=("delivery.when",),
    slots=(ORDER,),
    call=HttpCall(method="GET", path="/orders/{order_id}"),
    answers=ANSWERS,
)
CANCEL = ActionSpec(
    name="cancel_order",
    description="cancel an order",
    entries=("cancel.how",),
    slots=(ORDER,),
    call=HttpCall(method="POST", path="/orders/{order_id}/cancel"),
    answers=ANSWERS,
    writes=True,
    confirm="Shall I cancel order {order_id}?",
)
VERIFY = ActionSpec(
    name="verify_customer",
    description="whose order",
    slots=(ORDER, EMAIL),
    call=HttpCall(method="POST", path="/verify"),
    answers=ANSWERS,
)
CATALOG = ActionCatalog(actions=(STATUS, CANCEL, VERIFY))
TRACK = Entry("track.where", "track_order", ("Where is my order?",), "See My Account.")
HOW_TO_CANCEL = Entry("cancel.how", "cancel_order", ("Cancel my order",), "Ask us.")
WHEN = Entry("delivery.when", "delivery_time", ("When will it arrive?",), "3-5 days.")
PAY = Entry("pay.methods", "payment_methods", ("How can I pay?",), "Cards.")


def answering(entry: Entry) -> Decision:
    return Decision(Action.INTENT, "test", entry, 0.9)


NOT_SURE = Decision(Action.NOT_SURE, "test")


def test_a_question_about_an_order_without_its_number_asks_for_it() -> None:
    move = form_move(answering(TRACK), "where is my order?", DialogueState(), {}, CATALOG)
    assert move == Ask(STATUS, ORDER, {})
    asking = state_after(DialogueState(), move)
    assert (asking.pending_action, asking.asked_slot, asking.asked_again) == (
        "order_status",
        "order_id",
        False,
    )


def test_the_answer_resumes_the_action_and_a_known_number_is_used_at_once() -> None:
    asking = state_after(DialogueState(), Ask(STATUS, ORDER))
    move = form_move(NOT_SURE, "it's bc204518", asking, {"order_id": "BC-204518"}, CATALOG)
    assert move == ActionRequest(STATUS, {"order_id": "BC-204518"}, {})
    known = form_move(answering(TRACK), "and now?", DialogueState(), {"order_id": "BC-1"}, CATALOG)
    assert known == ActionRequest(STATUS, {"order_id": "BC-1"}, {})


def test_a_wrong_answer_is_asked_again_once_with_an_example_then_forgotten() -> None:
    asking = state_after(DialogueState(), Ask(STATUS, ORDER))
    again = form_move(NOT_SURE, "no idea", asking, {}, CATALOG)
    assert isinstance(again, Ask) and again.again and "BC-204518" in again.text
    asked_twice = state_after(asking, again)
    assert form_move(NOT_SURE, "still no idea", asked_twice, {}, CATALOG) is None
    assert state_after(asked_twice, None).pending_action is None


def test_a_new_subject_or_a_person_drops_the_form() -> None:
    asking = state_after(DialogueState(), Ask(STATUS, ORDER))
    assert form_move(answering(PAY), "how can I pay?", asking, {}, CATALOG) is None
    yes_person = Decision(Action.OFFER_PERSON, "test", accepted_person=True)
    assert form_move(yes_person, "yes", asking, {}, CATALOG) is None


def test_a_write_waits_for_an_explicit_yes_and_a_no_changes_nothing() -> None:
    order = {"order_id": "BC-204857"}
    confirm = form_move(
        answering(HOW_TO_CANCEL), "cancel BC-204857", DialogueState(), order, CATALOG
    )
    assert confirm == Confirm(CANCEL, order)
    assert confirm.text.startswith("Shall I cancel order BC-204857?")
    confirming = state_after(DialogueState(), confirm)
    assert form_move(NOT_SURE, "yes please", confirming, order, CATALOG) == ActionRequest(
        CANCEL, order, {}
    )
    assert form_move(NOT_SURE, "no thanks", confirming, order, CATALOG) == Declined(CANCEL)
    # Neither yes nor no: nothing is done.
    assert form_move(NOT_SURE, "hmm", confirming, order, CATALOG) is None


def test_another_order_named_while_confirming_is_confirmed_again() -> None:
    confirming = state_after(DialogueState(), Confirm(CANCEL, {"order_id": "BC-111111"}))
    move = form_move(
        NOT_SURE,
        "sorry, I meant BC-222222",
        confirming,
        {"order_id": "BC-222222"},
        CATALOG,
        earlier={"order_id": "BC-111111"},
    )
    assert move == Confirm(CANCEL, {"order_id": "BC-222222"})


def test_a_customer_nobody_vouched_for_is_asked_for_the_orders_email_too() -> None:
    proof = proof_slots(CATALOG, vouched_for=False)
    assert proof == (ORDER, EMAIL) and proof_slots(CATALOG, vouched_for=True) == ()
    order = {"order_id": "BC-204518"}
    move = form_move(answering(TRACK), "where is BC-204518", DialogueState(), order, CATALOG, proof)
    assert move == Ask(STATUS, EMAIL, order)
    asking = state_after(DialogueState(), move)
    known = {**order, "email": "p@example.com"}
    run = form_move(NOT_SURE, "p@example.com", asking, known, CATALOG, proof)
    assert run == ActionRequest(STATUS, order, known)
    # What the conversation keeps is the order, never the address.
    assert learnt_slots(run) == order


def test_a_follow_up_runs_only_when_the_order_is_known() -> None:
    assert form_move(answering(WHEN), "when will it arrive?", DialogueState(), {}, CATALOG) is None
    order = {"order_id": "BC-204518"}
    move = form_move(answering(WHEN), "when will it arrive?", DialogueState(), order, CATALOG)
    assert move == ActionRequest(STATUS, order, {})


def test_find_slot_prefers_the_shops_own_spelling_of_a_known_value() -> None:
    assert find_slot(ORDER, "it is bc 204518?", {}) is None  # a space is no order number
    assert find_slot(ORDER, "it is bc204518", {"order_id": "BC-204518"}) == "BC-204518"
    assert find_slot(ORDER, "it is bc204518", {}) == "BC204518"
    assert find_slot(EMAIL, "mail me at p@example.com.", {}) == "p@example.com"


def test_an_entry_that_names_an_action_runs_it_instead_of_its_intents() -> None:
    # Linked in the console: paying about an order is answered with the order's status.
    linked = Entry(PAY.id, PAY.intent, PAY.questions, PAY.answer, action="order_status")
    assert form_move(answering(PAY), "how can I pay?", DialogueState(), {}, CATALOG) is None
    move = form_move(answering(linked), "how can I pay?", DialogueState(), {}, CATALOG)
    assert move == Ask(STATUS, ORDER, {})
