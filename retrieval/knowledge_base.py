"""The company's knowledge base: entries with an intent, ways customers ask, and an answer.

An answer may use slots (``{customer_name}``, ``{order_id}``, ``{email}``); an entry whose answer
uses slots carries a ``fallback`` wording used whenever a slot's value is not known.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SLOTS = frozenset({"customer_name", "order_id", "email"})


class KnowledgeBaseError(ValueError):
    """The knowledge-base file is missing or malformed; the message names file and entry."""


def template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Entry:
    id: str
    intent: str
    questions: tuple[str, ...]
    answer: str
    fallback: str | None = None

    def render(self, known: dict[str, str | None]) -> str:
        """The answer with slots filled from ``known``, or the fallback if any slot is unknown."""
        needed = template_slots(self.answer)
        values = {name: known.get(name) for name in needed}
        if all(values.values()):
            return self.answer.format(**values)
        assert self.fallback is not None  # guaranteed by load_knowledge_base
        return self.fallback


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
        _parse_entry(path, position, item) for position, item in enumerate(document["entries"])
    ]
    if not entries:
        raise KnowledgeBaseError(f"{path}: `entries` is empty")
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise KnowledgeBaseError(f"{path}: entry id {entry.id!r} is used twice")
        seen.add(entry.id)
    return KnowledgeBase(tuple(entries), hashlib.sha256(raw).hexdigest(), path)


def _parse_entry(path: Path, position: int, item: object) -> Entry:
    where = f"{path}: entry #{position + 1}"
    if not isinstance(item, dict):
        raise KnowledgeBaseError(f"{where} is not a mapping")
    if isinstance(item.get("id"), str):
        where = f"{path}: entry {item['id']!r}"
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
    answer: str = item["answer"]
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
    if fallback is not None and template_slots(fallback):
        raise KnowledgeBaseError(f"{where}: `fallback` must not use slots")
    return Entry(
        id=item["id"],
        intent=item["intent"],
        questions=tuple(q.strip() for q in questions),
        answer=answer.strip(),
        fallback=fallback.strip() if isinstance(fallback, str) else None,
    )
