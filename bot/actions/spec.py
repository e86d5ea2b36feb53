"""Actions, declared not coded: what the bot may look up or change in the company's systems.

A company describes each action in YAML beside its knowledge base (``data/actions.yaml``): the
slots it needs from the customer, the HTTP call to the company's own API, and how each outcome
is worded. The file is checked when it is loaded, so a mistake stops start-up with one line
naming the file, the action and the field::

    data/actions.yaml: action 'order_status': call.timeout_s: must be greater than 0

Templates use Python's ``str.format_map`` syntax. The call's ``path`` and ``body`` and the
``not_found``, ``failed``, ``not_allowed`` and ``confirm`` answers are filled from the slots (the
path and body also from ``{customer_id}``); header values may use ``{secret}``, the API token the
settings hold; ``found`` is filled from the JSON the API answered, nesting included
(``{shipment[carrier]}``), and the slots.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from retrieval.errors import CxagentError

# Names the runner fills in itself; a slot may not take them.
CUSTOMER_ID = "customer_id"
SECRET = "secret"
RESERVED = frozenset({CUSTOMER_ID, SECRET})
# Each try of a retried GET waits at most the call's timeout; this many tries at most.
MAX_RETRIES = 3
MAX_TIMEOUT_S = 10.0

_NAME = r"^[a-z][a-z0-9_]*$"
_FORMATTER = string.Formatter()


class ActionsError(CxagentError, ValueError):
    """The actions file is missing or wrong; the message names the file, the action and the
    field."""


def field_path(field: str) -> tuple[str, tuple[str | int, ...]]:
    """A template field as its name and the keys below it: ``"shipment[carrier]"`` →
    ``("shipment", ("carrier",))``, ``"items[0]"`` → ``("items", (0,))``.

    Raises ValueError for a positional field (``{}``, ``{0}``), which ``format_map`` cannot
    fill, and for attribute access (``{shipment.carrier}``): the values are JSON, reached by key.
    """
    root = re.split(r"[.\[]", field, maxsplit=1)[0]
    if not root.isidentifier():
        raise ValueError(f"{{{field}}} is not a named field")
    rest = field[len(root) :]
    if rest.startswith(".") or "]." in rest:
        raise ValueError(f"{{{field}}}: write a nested field as {{a[b]}}, not {{a.b}}")
    keys = re.findall(r"\[([^\[\]]+)\]", rest)
    if "".join(f"[{key}]" for key in keys) != rest:
        raise ValueError(f"{{{field}}}: brackets do not match")
    return root, tuple(int(key) if key.isdigit() else key for key in keys)


def template_fields(template: str) -> set[str]:
    """The top-level names a ``str.format_map`` template uses: ``"{shipment[carrier]} {total}"``
    → ``{"shipment", "total"}``. Raises ValueError when the template does not parse (see
    ``field_path`` for the fields it refuses)."""
    names: set[str] = set()
    for _, field, _, _ in _FORMATTER.parse(template):
        if field is not None:
            names.add(field_path(field)[0])
    return names


def _check_template(template: str, allowed: Iterable[str] | None) -> str | None:
    """What is wrong with a template, or None. ``allowed`` None allows any name."""
    try:
        names = template_fields(template)
    except ValueError as error:
        return f"not a valid template ({error})"
    if allowed is None:
        return None
    unknown = sorted(names - set(allowed))
    if unknown:
        return f"uses {', '.join('{' + n + '}' for n in unknown)}; allowed: {sorted(allowed)}"
    return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SlotSpec(_Frozen):
    """A value the action needs from the customer, such as an order number."""

    name: str = Field(pattern=_NAME)
    pattern: str  # the whole value must match, case-insensitive
    example: str
    ask: str = Field(min_length=1)  # what the bot asks for it
    normalise: Literal["upper"] | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED:
            raise ValueError(f"{name!r} is filled in by cxagent; choose another name")
        return name

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"{pattern!r} is not a valid regular expression ({error})") from None
        return pattern

    @field_validator("example")
    @classmethod
    def _example_matches(cls, example: str, info: ValidationInfo) -> str:
        pattern = info.data.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, example.strip(), re.IGNORECASE):
            raise ValueError(f"{example!r} does not match the pattern {pattern!r}")
        return example

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)

    def parse(self, value: str) -> str | None:
        """The value as the API wants it (stripped, normalised), or None when it does not
        match the pattern."""
        value = value.strip()
        if not self.regex.fullmatch(value):
            return None
        return value.upper() if self.normalise == "upper" else value


class HttpCall(_Frozen):
    """One request to the company's API; ``path`` is joined to the API base URL."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, str | int | float | bool | None] | None = None
    timeout_s: float = Field(default=3.0, gt=0, le=MAX_TIMEOUT_S)
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)

    @field_validator("retries")
    @classmethod
    def _only_reads_retry(cls, retries: int, info: ValidationInfo) -> int:
        method = info.data.get("method")
        if retries and method is not None and method != "GET":
            raise ValueError(f"only a GET may be retried, not a {method} (it could happen twice)")
        return retries

    @field_validator("headers")
    @classmethod
    def _headers_use_only_the_secret(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            problem = _check_template(value, {SECRET})
            if problem:
                raise ValueError(f"{name}: {problem}")
        return headers

    @property
    def budget_s(self) -> float:
        """The longest the call may take, every try and back-off included (seconds)."""
        return self.timeout_s * (self.retries + 1) + sum(backoffs(self.retries))


def backoffs(retries: int) -> list[float]:
    """The pauses before each retry of a GET (seconds): short, doubling."""
    return [0.05 * 2**attempt for attempt in range(retries)]


class FoundCases(_Frozen):
    """Wordings of `found` by the value of one field of the API's answer (an order's status, or
    `refund[status]`): "in_transit" and "delivered" are different sentences, not one with a
    status code in it. The case `null` is for a field that is null or absent (no refund yet)."""

    field: str
    when: dict[str, str] = Field(min_length=1)

    @field_validator("field")
    @classmethod
    def _a_field(cls, name: str) -> str:
        field_path(name)  # raises ValueError naming what is wrong
        return name

    @field_validator("when")
    @classmethod
    def _parse(cls, templates: dict[str, str]) -> dict[str, str]:
        for value, template in templates.items():
            problem = _check_template(template, None)
            if problem:
                raise ValueError(f"{value}: {problem}")
        return templates

    def template(self, data: Mapping[str, Any]) -> str | None:
        """The wording for this answer of the API, if one of the cases fits."""
        root, keys = field_path(self.field)
        value: Any = data.get(root)
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        case = "null" if value is None else str(value)
        return self.when.get(case)


class Answers(_Frozen):
    """How each outcome is worded for the customer."""

    found: str  # and the wording when no case of `found_cases` fits
    found_cases: FoundCases | None = None
    not_found: str
    failed: str
    not_allowed: str

    @field_validator("found")
    @classmethod
    def _parses(cls, template: str) -> str:
        problem = _check_template(template, None)
        if problem:
            raise ValueError(problem)
        return template

    def found_template(self, data: Mapping[str, Any]) -> str:
        """The wording of `found` for this answer of the API."""
        if self.found_cases is not None:
            return self.found_cases.template(data) or self.found
        return self.found


class ActionSpec(_Frozen):
    """One action: when it triggers, what it needs, what it calls and how it answers."""

    name: str = Field(pattern=_NAME)
    description: str
    intents: tuple[str, ...] = ()
    entries: tuple[str, ...] = ()
    # Entries that trigger the action only when the conversation already knows all its slots: a
    # follow-up about the order in hand ("when will it arrive?"), which without one is a general
    # question the knowledge base answers.
    follow_ups: tuple[str, ...] = ()
    slots: tuple[SlotSpec, ...] = ()
    call: HttpCall
    answers: Answers
    writes: bool = False  # a write needs the customer's confirmation and a verified customer
    confirm: str | None = None  # what a write will do, asked before it runs

    @model_validator(mode="after")
    def _consistent(self) -> ActionSpec:
        names = [slot.name for slot in self.slots]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"slots: {twice} declared twice")
        if self.writes and self.confirm is None:
            raise ValueError("confirm: required when the action writes")
        if not self.writes and self.confirm is not None:
            raise ValueError("confirm: only for actions that write (writes: true)")
        if self.writes and self.call.method == "GET":
            raise ValueError("call.method: an action that writes cannot be a GET")
        for where, template, allowed in self._templates():
            problem = _check_template(template, allowed)
            if problem:
                raise ValueError(f"{where}: {problem}")
        return self

    def _templates(self) -> Iterable[tuple[str, str, set[str]]]:
        slots = {slot.name for slot in self.slots}
        yield "call.path", self.call.path, slots | {CUSTOMER_ID}
        for key, value in (self.call.body or {}).items():
            if isinstance(value, str):
                yield f"call.body.{key}", value, slots | {CUSTOMER_ID}
        for outcome in ("not_found", "failed", "not_allowed"):
            yield f"answers.{outcome}", getattr(self.answers, outcome), slots
        if self.confirm is not None:
            yield "confirm", self.confirm, slots

    def slot(self, name: str) -> SlotSpec | None:
        return next((slot for slot in self.slots if slot.name == name), None)

    def missing_slots(self, values: Mapping[str, str]) -> list[SlotSpec]:
        """The slots without a valid value in ``values``, in the order they are declared:
        the first is what the bot asks for next."""
        return [slot for slot in self.slots if slot.parse(values.get(slot.name) or "") is None]

    @property
    def uses_customer_id(self) -> bool:
        templates = [self.call.path, *(v for v in (self.call.body or {}).values())]
        return any(isinstance(t, str) and CUSTOMER_ID in template_fields(t) for t in templates)


class ActionCatalog(_Frozen):
    """Every action of a company, and which one an intent or a knowledge-base entry
    triggers."""

    actions: tuple[ActionSpec, ...] = ()

    @model_validator(mode="after")
    def _one_owner_each(self) -> ActionCatalog:
        names: set[str] = set()
        owners: dict[tuple[str, str], str] = {}
        for action in self.actions:
            if action.name in names:
                raise ValueError(f"action {action.name!r}: name: used by another action")
            names.add(action.name)
            triggers = [("intents", i) for i in action.intents]
            triggers += [("entries", e) for e in action.entries]
            triggers += [("follow_ups", e) for e in action.follow_ups]
            for trigger in triggers:
                owner = owners.setdefault(trigger, action.name)
                if owner != action.name:
                    raise ValueError(
                        f"action {action.name!r}: {trigger[0]}: {trigger[1]!r} already "
                        f"triggers action {owner!r}"
                    )
        return self

    @cached_property
    def _by_intent(self) -> dict[str, ActionSpec]:
        return {intent: a for a in self.actions for intent in a.intents}

    @cached_property
    def _by_entry(self) -> dict[str, ActionSpec]:
        return {entry: a for a in self.actions for entry in a.entries}

    def for_intent(self, intent: str) -> ActionSpec | None:
        return self._by_intent.get(intent)

    def for_entry(self, entry_id: str) -> ActionSpec | None:
        return self._by_entry.get(entry_id)

    def for_answer(self, entry_id: str, intent: str, named: str | None) -> ActionSpec | None:
        """The action answering a knowledge-base entry runs: the one the entry names (set in
        the console), else the one this file names for the entry, else for its intent."""
        if named is not None:
            return self.get(named)
        return self.for_entry(entry_id) or self.for_intent(intent)

    def for_follow_up(self, entry_id: str) -> ActionSpec | None:
        return next((a for a in self.actions if entry_id in a.follow_ups), None)

    def get(self, name: str) -> ActionSpec | None:
        return next((a for a in self.actions if a.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)


def load_actions(path: Path) -> ActionCatalog:
    """Read and check an actions file: a mapping with ``actions``, a list of actions.

    Raises ActionsError naming the file, the action and the field when anything is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ActionsError(f"{path}: no such actions file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ActionsError(f"{path}: cannot read the actions file ({error})") from None
    except yaml.YAMLError as error:
        raise ActionsError(f"{path}: not valid YAML ({_one_line(str(error))})") from None
    if raw is None:
        raw = {"actions": []}
    if not isinstance(raw, dict) or set(raw) - {"actions"}:
        raise ActionsError(f"{path}: must be a mapping with one key, `actions` (a list)")
    items = raw.get("actions") or []
    if not isinstance(items, list):
        raise ActionsError(f"{path}: `actions` must be a list of actions")
    specs = [_load_one(path, index, item) for index, item in enumerate(items)]
    try:
        return ActionCatalog(actions=tuple(specs))
    except ValidationError as error:
        raise ActionsError(f"{path}: {_describe(error, {})}") from None


def _load_one(path: Path, index: int, item: Any) -> ActionSpec:
    name = item.get("name") if isinstance(item, dict) else None
    label = f"action {name!r}" if isinstance(name, str) else f"action #{index + 1}"
    if not isinstance(item, dict):
        raise ActionsError(f"{path}: {label}: must be a mapping")
    try:
        return ActionSpec.model_validate(item)
    except ValidationError as error:
        raise ActionsError(f"{path}: {label}: {_describe(error, item)}") from None


def _describe(error: ValidationError, raw: Mapping[str, Any]) -> str:
    """Pydantic's errors as ``field: what is wrong`` phrases, fields named as in the YAML."""
    return "; ".join(_phrase(e, raw) for e in error.errors(include_url=False))


def _phrase(error: Any, raw: Mapping[str, Any]) -> str:
    where = _where(tuple(error["loc"]), raw)
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message.replace("Input should be", "must be").replace("String should", "must")
    message = message.replace("a valid tuple", "a list").replace("a valid dictionary", "a mapping")
    if error["type"] == "missing":
        message = "required"
    elif error["type"] == "extra_forbidden":
        message = "not a known field"
    return f"{where}: {message}" if where else message


def _where(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    """``("slots", 0, "example")`` → ``slots[order_id].example`` (the slot named, where it
    has a name)."""
    parts: list[str] = []
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("name") if isinstance(item, dict) else None
            parts[-1] += f"[{label if isinstance(label, str) else part}]"
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())
