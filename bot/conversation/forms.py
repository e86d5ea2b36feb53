"""Forms: an action that needs a detail the conversation does not have asks for it, checks the
answer, asks once more with an example, and then runs; an action that changes something says
exactly what it will do and waits for an explicit yes. The customer may change the subject at
any point, and the pending action is forgotten then.

A customer nobody vouched for (no signed id from the company's site) proves who they are the
way shops let guests track an order: the order number and the e-mail address it was placed
with, checked by the company's own `verify_customer` action before anything is looked up.

Pure: the dialogue state remembers the pending action between turns (``DialogueState.
pending_action``, ``asked_slot``, ``asked_again``, ``confirming``); nothing here calls the
company's API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.actions.spec import ActionCatalog, ActionSpec, SlotSpec
from bot.conversation.policy import ANSWERING, Decision, DialogueState, is_no, is_yes

# The action that checks a customer's proof of who they are (an order number and its e-mail
# address) and answers their customer id.
VERIFY_ACTION = "verify_customer"
ASK_AGAIN_REPLY = "Sorry, I couldn't find that in your message: it looks like {example}. {ask}"
CONFIRM_REPLY = "{what} Shall I go ahead? Please answer yes or no."
DECLINED_REPLY = "All right, I haven't changed anything. What else can I help you with?"


@dataclass(frozen=True)
class ActionRequest:
    """Run this action with these slot values; ``proof`` is what a customer nobody vouched for
    gave to show who they are (checked first, never kept)."""

    spec: ActionSpec
    slots: Mapping[str, str]
    proof: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ask:
    """Ask the customer for a slot; ``again`` the second time, with an example. ``learnt`` holds
    the action's slot values known so far, kept on the conversation for the next turn."""

    spec: ActionSpec
    slot: SlotSpec
    learnt: Mapping[str, str] = field(default_factory=dict)
    again: bool = False

    @property
    def text(self) -> str:
        if self.again:
            return ASK_AGAIN_REPLY.format(example=self.slot.example, ask=self.slot.ask)
        return self.slot.ask


@dataclass(frozen=True)
class Confirm:
    """Say exactly what a write action will do, and wait for a yes."""

    spec: ActionSpec
    slots: Mapping[str, str]

    @property
    def text(self) -> str:
        return CONFIRM_REPLY.format(what=(self.spec.confirm or "").format_map(dict(self.slots)))


@dataclass(frozen=True)
class Declined:
    """The customer said no to a write action: nothing is done."""

    spec: ActionSpec
    text: str = DECLINED_REPLY


FormMove = ActionRequest | Ask | Confirm | Declined


def proof_slots(catalog: ActionCatalog, vouched_for: bool) -> tuple[SlotSpec, ...]:
    """What a customer must give to prove who they are: nothing if the site vouched for them."""
    verify = catalog.get(VERIFY_ACTION)
    return () if vouched_for or verify is None else verify.slots


def form_move(
    decision: Decision,
    text: str,
    state: DialogueState,
    known: Mapping[str, str],
    catalog: ActionCatalog,
    proof: tuple[SlotSpec, ...] = (),
    earlier: Mapping[str, str] | None = None,
) -> FormMove | None:
    """What the bot does about actions this turn: go on with the pending form, start the action
    the answered topic triggers, or nothing (the decision's answer stands).

    ``known`` holds the slot values the conversation has, this message's included (an order
    number the customer typed, in the shop's own form), and the customer's e-mail address;
    ``proof`` the slots a customer nobody vouched for must give as well; ``earlier`` the
    conversation's slots before this message."""
    pending = catalog.get(state.pending_action) if state.pending_action else None
    if pending is not None and state.confirming:
        stated = _stated(pending.slots, text, known)
        changed = {n: v for n, v in stated.items() if (earlier or {}).get(n) != v}
        if changed:  # another order or item: say again what will be done, with it
            return _request_or_ask(pending, {**known, **changed}, proof)
        if is_yes(text) and not any(slot.name not in known for slot in _needed(pending, proof)):
            return _request(pending, known, proof)
        if is_no(text):
            return Declined(pending)
        # Neither: nothing is done, and the message is answered for what it says.
    elif pending is not None:
        asked = next((s for s in _needed(pending, proof) if s.name == state.asked_slot), None)
        value = find_slot(asked, text, known) if asked is not None else None
        if asked is not None and value is not None:
            return _request_or_ask(pending, {**known, asked.name: value}, proof)
        if asked is not None and not state.asked_again and not _changes_subject(decision, pending):
            return Ask(pending, asked, _learnt(pending, known), again=True)
        # A second miss, or a new subject: the form is forgotten and the message answered.
    triggered = _triggered(decision, catalog)
    if triggered is None:
        return _follow_up(decision, catalog, known, proof)
    return _request_or_ask(triggered, {**known, **_stated(triggered.slots, text, known)}, proof)


def find_slot(slot: SlotSpec, text: str, known: Mapping[str, str]) -> str | None:
    """The slot's value as stated in ``text``: a value the conversation's own slot extraction
    found in this message wins (it is already in the shop's form), else the action's pattern."""
    match = re.search(rf"(?<![\w@.-])(?:{slot.pattern})(?![\w@-])", text, re.IGNORECASE)
    if match is None:
        return None
    value = match.group(0)
    if slot.name in known and _bare(known[slot.name]) == _bare(value):
        return known[slot.name]
    return value.upper() if slot.normalise == "upper" else value


def learnt_slots(move: FormMove | None) -> Mapping[str, str]:
    """The action's slot values to keep on the conversation: "when will it arrive?" next uses
    the same order. Never the proof (an e-mail address is personal data)."""
    if isinstance(move, Ask):
        return move.learnt
    if isinstance(move, ActionRequest | Confirm):
        return move.slots
    return {}


def state_after(state: DialogueState, move: FormMove | None) -> DialogueState:
    """The dialogue's memory of the form after this turn."""
    if isinstance(move, Ask):
        return replace(
            state,
            pending_action=move.spec.name,
            asked_slot=move.slot.name,
            asked_again=move.again,
            confirming=False,
        )
    if isinstance(move, Confirm):
        return replace(
            state,
            pending_action=move.spec.name,
            asked_slot=None,
            asked_again=False,
            confirming=True,
        )
    return replace(state, pending_action=None, asked_slot=None, asked_again=False, confirming=False)


def _bare(value: str) -> str:
    """A value without case, spaces or dashes: "bc 204518" is "BC-204518"."""
    return re.sub(r"[\s-]", "", value).upper()


def _stated(slots: tuple[SlotSpec, ...], text: str, known: Mapping[str, str]) -> dict[str, str]:
    """The slot values this message states."""
    return {slot.name: value for slot in slots if (value := find_slot(slot, text, known))}


def _needed(spec: ActionSpec, proof: tuple[SlotSpec, ...]) -> tuple[SlotSpec, ...]:
    names = {slot.name for slot in spec.slots}
    return spec.slots + tuple(slot for slot in proof if slot.name not in names)


def _learnt(spec: ActionSpec, known: Mapping[str, str]) -> dict[str, str]:
    return {slot.name: known[slot.name] for slot in spec.slots if slot.name in known}


def _request(
    spec: ActionSpec, known: Mapping[str, str], proof: tuple[SlotSpec, ...]
) -> ActionRequest:
    return ActionRequest(
        spec,
        {slot.name: known[slot.name] for slot in spec.slots},
        {slot.name: known[slot.name] for slot in proof},
    )


def _request_or_ask(
    spec: ActionSpec, known: Mapping[str, str], proof: tuple[SlotSpec, ...]
) -> FormMove:
    missing = next((slot for slot in _needed(spec, proof) if slot.name not in known), None)
    if missing is not None:
        return Ask(spec, missing, _learnt(spec, known))
    if spec.writes:
        return Confirm(spec, _learnt(spec, known))
    return _request(spec, known, proof)


def _triggered(decision: Decision, catalog: ActionCatalog) -> ActionSpec | None:
    """The action the answered knowledge-base entry (or its intent) stands for, if any."""
    if decision.action not in ANSWERING or decision.entry is None:
        return None
    entry = decision.entry
    return catalog.for_answer(entry.id, entry.intent, entry.action)


def _follow_up(
    decision: Decision,
    catalog: ActionCatalog,
    known: Mapping[str, str],
    proof: tuple[SlotSpec, ...],
) -> ActionRequest | None:
    """A question about the order in hand: the action runs only if every slot is known."""
    if decision.action not in ANSWERING or decision.entry is None:
        return None
    spec = catalog.for_follow_up(decision.entry.id)
    if spec is None or spec.writes or any(s.name not in known for s in _needed(spec, proof)):
        return None
    return _request(spec, known, proof)


def _changes_subject(decision: Decision, pending: ActionSpec) -> bool:
    """The customer moved on: asked for a person, or asked something the form is not about."""
    if decision.accepted_person:
        return True
    if decision.action not in ANSWERING or decision.entry is None:
        return False
    entry = decision.entry
    return entry.id not in pending.entries and entry.intent not in pending.intents
