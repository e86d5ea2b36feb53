"""The actions file: what a valid one gives, and load errors that name the file, the action and
the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.actions import ActionCatalog, ActionsError, ActionSpec, load_actions
from bot.config import DEMO_DIR
from retrieval.errors import CxagentError
from retrieval.knowledge_base import load_knowledge_base

ORDER_ID: dict[str, Any] = {
    "name": "order_id",
    "pattern": r"BC-?\d{6}",
    "normalise": "upper",
    "example": "BC-204518",
    "ask": "Which order?",
}


def action(**changes: Any) -> dict[str, Any]:
    """A valid read action as the YAML holds it, with ``changes`` on top."""
    spec: dict[str, Any] = {
        "name": "order_status",
        "description": "Where an order is.",
        "intents": ["track_order"],
        "entries": ["track_order.where_is_my_order"],
        "slots": [copy.deepcopy(ORDER_ID)],
        "call": {
            "method": "GET",
            "path": "/orders/{order_id}",
            "headers": {"Authorization": "Bearer {secret}"},
            "timeout_s": 2,
            "retries": 1,
        },
        "answers": {
            "found": "Order {order_id} is {status}, with {shipment[carrier]}.",
            "not_found": "No order {order_id}.",
            "failed": "Cannot check {order_id} now.",
            "not_allowed": "Not here.",
        },
    }
    spec.update(changes)
    return spec


def write_action(**changes: Any) -> dict[str, Any]:
    spec = action(
        name="cancel_order",
        intents=[],
        entries=["cancel_order.how_to_cancel"],
        writes=True,
        confirm="Cancel order {order_id}?",
        call={
            "method": "POST",
            "path": "/orders/{order_id}/cancel",
            "body": {"reason": "customer asked", "by": "{customer_id}"},
        },
    )
    spec.update(changes)
    return spec


def nested(spec: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """``spec`` with the value at ``call.timeout_s`` (say) replaced."""
    changed = copy.deepcopy(spec)
    *parents, last = dotted.split(".")
    node = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return changed


@pytest.fixture
def actions_file(tmp_path: Path) -> Path:
    return tmp_path / "actions.yaml"


def load(path: Path, *actions: dict[str, Any]) -> ActionCatalog:
    path.write_text(yaml.safe_dump({"actions": list(actions)}), encoding="utf-8")
    return load_actions(path)


def test_a_valid_file_gives_the_actions_and_what_triggers_them(actions_file: Path) -> None:
    catalog = load(actions_file, action(), write_action())
    assert catalog.names == ("order_status", "cancel_order")
    status = catalog.for_intent("track_order")
    assert status is not None and status.name == "order_status"
    assert catalog.for_entry("track_order.where_is_my_order") is status
    cancel = catalog.for_entry("cancel_order.how_to_cancel")
    assert cancel is not None and cancel.writes and cancel.confirm == "Cancel order {order_id}?"
    assert catalog.for_intent("cancel_order") is None
    assert catalog.for_entry("nothing.here") is None
    assert catalog.get("cancel_order") is cancel
    assert status.call.budget_s == pytest.approx(2 * 2 + 0.05)
    assert cancel.call.retries == 0 and cancel.call.timeout_s == 3.0  # the defaults
    assert cancel.uses_customer_id and not status.uses_customer_id


def test_a_slot_value_is_checked_whole_and_normalised(actions_file: Path) -> None:
    spec = load(actions_file, action()).actions[0]
    slot = spec.slot("order_id")
    assert slot is not None
    assert slot.parse(" bc-204518 ") == "BC-204518"
    assert slot.parse("bc204518") == "BC204518"
    assert slot.parse("BC-2045189") is None  # the whole value must match
    assert slot.parse("order BC-204518") is None
    assert [s.name for s in spec.missing_slots({})] == ["order_id"]
    assert spec.missing_slots({"order_id": "BC-204518"}) == []
    assert [s.name for s in spec.missing_slots({"order_id": "nope"})] == ["order_id"]


def test_the_models_are_frozen(actions_file: Path) -> None:
    spec = load(actions_file, action()).actions[0]
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


def test_an_empty_file_is_an_empty_catalogue(actions_file: Path) -> None:
    actions_file.write_text("", encoding="utf-8")
    assert load_actions(actions_file).actions == ()


# (what is changed, the value, what the error says after "<file>: action '<name>': ")
BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("call.timeout_s", 0, "call.timeout_s: must be greater than 0"),
    ("call.timeout_s", 11, "call.timeout_s: must be less than or equal to 10"),
    ("call.timeout_s", "soon", "call.timeout_s: must be a valid number"),
    ("call.retries", -1, "call.retries: must be greater than or equal to 0"),
    ("call.method", "FETCH", "call.method: must be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'"),
    ("call.path", "orders/{order_id}", "call.path: must match pattern '^/'"),
    (
        "call.path",
        "/orders/{order}",
        "call.path: uses {order}; allowed: ['customer_id', 'order_id']",
    ),
    ("call.verb", "GET", "call.verb: not a known field"),
    (
        "call.headers",
        {"Authorization": "Bearer {token}"},
        "call.headers: Authorization: uses {token}; allowed: ['secret']",
    ),
    (
        "slots.0.pattern",
        "BC-(\\d{6}",
        "slots[order_id].pattern: 'BC-(\\\\d{6}' is not a valid regular",
    ),
    ("slots.0.example", "XY-1", "slots[order_id].example: 'XY-1' does not match the pattern"),
    ("slots.0.normalise", "lower", "slots[order_id].normalise: must be 'upper'"),
    (
        "slots.0.name",
        "customer_id",
        "slots[customer_id].name: 'customer_id' is filled in by cxagent",
    ),
    ("slots.0.ask", "", "slots[order_id].ask: must have at least 1 character"),
    ("answers.found", "Order {shipment[carrier}", "answers.found: not a valid template"),
    ("answers.found", "Via {shipment.carrier}", "answers.found: not a valid template"),
    ("answers.found", "Order {}", "answers.found: not a valid template ({} is not a named field)"),
    ("answers.found", "Order {status", "answers.found: not a valid template"),
    ("answers.not_found", "No order {status}.", "answers.not_found: uses {status}; allowed"),
    ("answers.failed", "Sorry } there", "answers.failed: not a valid template"),
    ("answers.sorry", "Sorry", "answers.sorry: not a known field"),
    ("intents", "track_order", "intents: must be a list"),
    ("description", None, "description: must be a valid string"),
]


@pytest.mark.parametrize(("where", "value", "says"), BAD_FIELDS)
def test_a_bad_field_is_named_with_its_action(
    actions_file: Path, where: str, value: Any, says: str
) -> None:
    with pytest.raises(ActionsError) as raised:
        load(actions_file, nested(action(), where, value))
    assert str(raised.value).startswith(f"{actions_file}: action 'order_status': {says}")


BAD_ACTIONS: list[tuple[dict[str, Any], str]] = [
    ({k: v for k, v in action().items() if k != "answers"}, "answers: required"),
    (write_action(confirm=None), "confirm: required when the action writes"),
    (action(confirm="Sure?"), "confirm: only for actions that write"),
    (write_action(confirm="Cancel {order}?"), "confirm: uses {order}"),
    (
        nested(write_action(), "call.retries", 2),
        "call.retries: only a GET may be retried, not a POST (it could happen twice)",
    ),
    (nested(write_action(), "call.method", "GET"), "call.method: an action that writes cannot"),
    (nested(write_action(), "call.body.by", "{who}"), "call.body.by: uses {who}"),
    (action(slots=[ORDER_ID, ORDER_ID]), "slots: ['order_id'] declared twice"),
]


@pytest.mark.parametrize(("spec", "says"), BAD_ACTIONS)
def test_a_bad_action_is_named_with_what_is_wrong(
    actions_file: Path, spec: dict[str, Any], says: str
) -> None:
    with pytest.raises(ActionsError) as raised:
        load(actions_file, spec)
    assert str(raised.value).startswith(f"{actions_file}: action '{spec['name']}': {says}")


def test_two_actions_may_not_share_a_name_or_a_trigger(actions_file: Path) -> None:
    with pytest.raises(ActionsError, match="action 'order_status': name: used by another action"):
        load(actions_file, action(), action())
    with pytest.raises(ActionsError) as raised:
        load(actions_file, action(), write_action(intents=["track_order"]))
    assert str(raised.value) == (
        f"{actions_file}: action 'cancel_order': intents: 'track_order' already triggers "
        "action 'order_status'"
    )
    with pytest.raises(ActionsError, match="entries: 'track_order.where_is_my_order' already"):
        load(actions_file, action(), write_action(entries=["track_order.where_is_my_order"]))


def test_an_action_without_a_name_is_named_by_its_place(actions_file: Path) -> None:
    unnamed = {k: v for k, v in action().items() if k != "name"}
    with pytest.raises(ActionsError, match=r"action #2: name: required"):
        load(actions_file, write_action(), unnamed)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("actions: [unclosed", "not valid YAML"),
        ("- name: order_status", "must be a mapping with one key, `actions`"),
        ("actions: []\nrules: []", "must be a mapping with one key, `actions`"),
        ("actions: order_status", "`actions` must be a list of actions"),
        ("actions: [order_status]", "action #1: must be a mapping"),
    ],
)
def test_a_file_of_the_wrong_shape_is_named(actions_file: Path, text: str, says: str) -> None:
    actions_file.write_text(text, encoding="utf-8")
    with pytest.raises(ActionsError, match=f"^{actions_file}: ") as raised:
        load_actions(actions_file)
    assert says in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "actions.yaml"
    with pytest.raises(ActionsError) as raised:
        load_actions(missing)
    assert str(raised.value) == f"{missing}: no such actions file"
    assert isinstance(raised.value, CxagentError) and isinstance(raised.value, ValueError)


def test_the_demo_catalogue_loads_and_its_triggers_exist() -> None:
    catalog = load_actions(DEMO_DIR / "actions.yaml")
    assert catalog.names == (
        "order_status",
        "refund_status",
        "return_status",
        "cancel_order",
        "start_return",
        "verify_customer",
    )
    knowledge_base = load_knowledge_base(DEMO_DIR / "knowledge_base.yaml")
    for spec in catalog.actions:
        assert set(spec.entries) <= {entry.id for entry in knowledge_base.entries}, spec.name
        assert set(spec.follow_ups) <= {entry.id for entry in knowledge_base.entries}, spec.name
        assert set(spec.intents) <= set(knowledge_base.intents), spec.name
        assert spec.slot("order_id") is not None
    order_status = catalog.for_intent("track_order")
    assert order_status is not None and order_status.name == "order_status"
    track_entries = {e.id for e in knowledge_base.entries if e.intent == "track_order"}
    assert {e for e in track_entries if catalog.for_entry(e) is order_status} == track_entries
    writes = {spec.name for spec in catalog.actions if spec.writes}
    assert writes == {"cancel_order", "start_return"}
    assert all(spec.confirm for spec in catalog.actions if spec.writes)
    assert all(spec.call.retries == 0 for spec in catalog.actions if spec.writes)


def test_the_demo_slots_take_their_examples() -> None:
    for spec in load_actions(DEMO_DIR / "actions.yaml").actions:
        for slot in spec.slots:
            expected = slot.example.upper() if slot.normalise == "upper" else slot.example
            assert slot.parse(slot.example) == expected, (spec.name, slot.name)


def test_an_action_spec_can_be_built_in_code() -> None:
    spec = ActionSpec.model_validate(action())
    assert spec.answers.found.startswith("Order {order_id}")
