"""The company's knowledge base: entries with an intent, ways customers ask, and an answer.

An answer may use slots (``{customer_name}``, ``{order_id}``, ``{email}``); an entry whose answer
uses slots carries a ``fallback`` wording used whenever a slot's value is not known.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from retrieval.errors import CxagentError

SLOTS = frozenset({"customer_name", "order_id", "email"})


class KnowledgeBaseError(CxagentError, ValueError):
    """The knowledge-base file is missing or malformed; the message names file and entry."""


def template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# Profile facts a variant of an answer may depend on.
VARIANT_KEYS = frozenset({"tier", "segment", "lifecycle_stage"})


@dataclass(frozen=True)
class Variant:
    """Another wording of an answer for customers whose profile matches ``when`` (every key)."""

    when: tuple[tuple[str, str], ...]
    answer: str
    fallback: str | None = None

    def matches(self, profile: dict[str, object]) -> bool:
        return all(str(profile.get(key, "")).strip().lower() == value for key, value in self.when)


@dataclass(frozen=True)
class Entry:
    id: str
    intent: str
    questions: tuple[str, ...]
    answer: str
    fallback: str | None = None
    variants: tuple[Variant, ...] = ()
    # The action (by name, in the company's actions file) answering this entry runs; None: the
    # one the actions file names for this entry or its intent, if any.
    action: str | None = None

    def render(self, known: dict[str, str | None], profile: dict[str, object] | None = None) -> str:
        """The answer (or the first variant the customer's ``profile`` matches) with slots filled
        from ``known``, or its fallback if any slot is unknown."""
        answer, fallback = self.answer, self.fallback
        for variant in self.variants:
            if profile is not None and variant.matches(profile):
                answer, fallback = variant.answer, variant.fallback
                break
        needed = template_slots(answer)
        values = {name: known.get(name) for name in needed}
        if all(values.values()):
            return answer.format(**values)
        assert fallback is not None  # guaranteed by load_knowledge_base
        return fallback


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    content_hash: str
    source: Path | None = None
    _by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {entry.id: entry for entry in self.entries})

    def __getitem__(self, entry_id: str) -> Entry:
        return self._by_id[entry_id]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def intents(self) -> list[str]:
        return sorted({entry.intent for entry in self.entries})


def load_knowledge_base(path: Path) -> KnowledgeBase:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise KnowledgeBaseError(f"cannot read knowledge base {path}: {error.strerror}") from None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise KnowledgeBaseError(f"{path}: expected a mapping with a list under `entries`")
    entries = [
        parse_entry(item, f"{path}: ", position)
        for position, item in enumerate(document["entries"])
    ]
    check_entries(entries, f"{path}: ")
    return KnowledgeBase(tuple(entries), hashlib.sha256(raw).hexdigest(), path)


def check_entries(entries: list[Entry], where: str = "") -> None:
    """The rules a whole knowledge base follows: some entries, each id once."""
    if not entries:
        raise KnowledgeBaseError(f"{where}`entries` is empty")
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise KnowledgeBaseError(f"{where}entry id {entry.id!r} is used twice")
        seen.add(entry.id)


def parse_entry(item: object, where: str = "", position: int | None = None) -> Entry:
    """One entry from its document (as the YAML file has it, or as ``entry_document`` gives it);
    KnowledgeBaseError names the entry (``where`` first) and the field that is wrong."""
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        where = f"{where}entry {item['id']!r}"
    else:
        where = f"{where}entry" + (f" #{position + 1}" if position is not None else "")
    if not isinstance(item, dict):
        raise KnowledgeBaseError(f"{where} is not a mapping")
    for key in ("id", "intent", "answer"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise KnowledgeBaseError(f"{where}: `{key}` must be a non-empty string")
    questions = item.get("questions")
    if (
        not isinstance(questions, list)
        or not questions
        or not all(isinstance(q, str) and q.strip() for q in questions)
    ):
        raise KnowledgeBaseError(f"{where}: `questions` must be a list of non-empty strings")
    answer, fallback = _answer_and_fallback(where, item)
    action = item.get("action")
    if action is not None and (not isinstance(action, str) or not action.strip()):
        raise KnowledgeBaseError(f"{where}: `action` must be the name of an action")
    return Entry(
        id=item["id"],
        intent=item["intent"],
        questions=tuple(q.strip() for q in questions),
        answer=answer,
        fallback=fallback,
        variants=_parse_variants(where, item.get("variants", [])),
        action=action.strip() if action is not None else None,
    )


def _parse_variants(where: str, variants: object) -> tuple[Variant, ...]:
    if not isinstance(variants, list):
        raise KnowledgeBaseError(f"{where}: `variants` must be a list")
    parsed = []
    for number, variant in enumerate(variants, start=1):
        there = f"{where}, variant {number}"
        if not isinstance(variant, dict) or not isinstance(variant.get("answer"), str):
            raise KnowledgeBaseError(f"{there}: needs `when` and an `answer`")
        when = variant.get("when")
        if not isinstance(when, dict) or not when or not set(when) <= VARIANT_KEYS:
            raise KnowledgeBaseError(
                f"{there}: `when` must map some of {sorted(VARIANT_KEYS)} to values"
            )
        parsed.append(
            Variant(
                tuple(sorted((k, str(v).strip().lower()) for k, v in when.items())),
                *_answer_and_fallback(there, variant),
            )
        )
    return tuple(parsed)


def _answer_and_fallback(where: str, item: dict[str, object]) -> tuple[str, str | None]:
    answer = item["answer"]
    assert isinstance(answer, str)
    fallback = item.get("fallback")
    try:
        slots = template_slots(answer)
    except ValueError as error:
        raise KnowledgeBaseError(f"{where}: `answer` has a broken slot: {error}") from None
    unknown = slots - SLOTS
    if unknown:
        raise KnowledgeBaseError(
            f"{where}: unknown slot(s) {sorted(unknown)}; allowed: {sorted(SLOTS)}"
        )
    if slots and not (isinstance(fallback, str) and fallback.strip()):
        raise KnowledgeBaseError(f"{where}: the answer uses slots, so it needs a `fallback`")
    if fallback is not None and (not isinstance(fallback, str) or template_slots(fallback)):
        raise KnowledgeBaseError(f"{where}: `fallback` must be text without slots")
    return answer.strip(), fallback.strip() if isinstance(fallback, str) else None


def entry_document(entry: Entry) -> dict[str, object]:
    """The entry as the YAML file writes it (and ``parse_entry`` reads it): optional fields only
    when set."""
    document: dict[str, object] = {
        "id": entry.id,
        "intent": entry.intent,
        "questions": list(entry.questions),
        "answer": entry.answer,
    }
    if entry.fallback is not None:
        document["fallback"] = entry.fallback
    if entry.variants:
        document["variants"] = [
            {
                "when": dict(variant.when),
                "answer": variant.answer,
                **({"fallback": variant.fallback} if variant.fallback is not None else {}),
            }
            for variant in entry.variants
        ]
    if entry.action is not None:
        document["action"] = entry.action
    return document


def entries_hash(entries: tuple[Entry, ...]) -> str:
    """A content hash of entries that come from no file (a database): sha256 of their
    documents as canonical JSON."""
    canonical = json.dumps([entry_document(e) for e in entries], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dump_knowledge_base(entries: tuple[Entry, ...]) -> str:
    """The YAML document ``load_knowledge_base`` reads back to the same entries."""
    document = {"entries": [entry_document(entry) for entry in entries]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
