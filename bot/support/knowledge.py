"""The knowledge base kept in the database and edited by staff: every change is a new version
of an entry (its whole content, who, when), which can be compared with another and reverted to.

The YAML file stays the import and export format (``cxagent kb import`` / ``kb export``) and
fills an empty database at start-up. The knowledge base's *revision* is the number of versions
ever written: it grows with every committed change, whatever the order transactions commit in,
so a worker that serves an older revision knows to reload (bot.support.knowledge_sync).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.spec import ActionCatalog
from bot.errors import Conflict, Forbidden, NotFound, Rejected
from bot.live.events import EventHub
from bot.storage.models import KnowledgeEntry, KnowledgeVersion, Staff, utcnow
from bot.support.accounts import Role, StaffMember
from retrieval.knowledge_base import (
    Entry,
    KnowledgeBase,
    KnowledgeBaseError,
    check_entries,
    entries_hash,
    entry_document,
    parse_entry,
)

logger = logging.getLogger(__name__)

# Where every worker hears that the knowledge base changed: {"type": "knowledge", "revision": n}.
KNOWLEDGE_TOPIC = "knowledge"

# The roles that may change the knowledge base.
EDITING_ROLES = frozenset({Role.EDITOR, Role.ADMIN})

# The fields of an entry's document, in the order a comparison lists them.
ENTRY_FIELDS = ("id", "intent", "questions", "answer", "fallback", "variants", "action")


class KnowledgeAction(StrEnum):
    IMPORT = "import"
    CREATE = "create"
    EDIT = "edit"
    RETIRE = "retire"
    REVERT = "revert"


@dataclass(frozen=True)
class EntryState:
    """An entry as it stands now."""

    id: str
    content: dict[str, Any]
    retired: bool
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class EntryVersion:
    """One change to an entry: its content after the change, and who made it (None: an import)."""

    entry_id: str
    version: int
    action: KnowledgeAction
    content: dict[str, Any]
    retired: bool
    author: str | None
    created_at: datetime
    reverted_to: int | None


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Comparison:
    entry_id: str
    older: EntryVersion
    newer: EntryVersion
    changes: list[FieldChange]


@dataclass(frozen=True)
class Snapshot:
    """The live entries, in order, at a revision."""

    revision: int
    entries: tuple[Entry, ...]


def knowledge_base_of(snapshot: Snapshot, imported: KnowledgeBase | None = None) -> KnowledgeBase:
    """The knowledge base a snapshot serves. While its entries are exactly the YAML file's
    (``imported``), it carries the file's hash and name, so that the index shipped or built for
    the file still matches and a bundle fitted to it is not called stale."""
    if imported is not None and imported.entries == snapshot.entries:
        return imported
    return KnowledgeBase(snapshot.entries, entries_hash(snapshot.entries))


def check_editor(member: StaffMember) -> None:
    if member.role not in EDITING_ROLES:
        raise Forbidden("only an editor or an admin can change the knowledge base")


class KnowledgeService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        events: EventHub | None = None,
        actions: ActionCatalog | None = None,
    ) -> None:
        """``actions``: the company's, which an entry's ``action`` must name (None: not
        checked, as by the command line without the actions file)."""
        self.sessions = sessions
        self.events = events if events is not None else EventHub()
        self.actions = actions

    def validated(self, document: object) -> Entry:
        """The entry a document describes, or Rejected naming the field that is wrong."""
        try:
            entry = parse_entry(document)
        except KnowledgeBaseError as error:
            raise Rejected(str(error)) from None
        self.check_actions((entry,))
        return entry

    def check_actions(self, entries: tuple[Entry, ...]) -> None:
        """Rejected for an entry that names an action the company does not have."""
        if self.actions is None:
            return
        names = sorted(action.name for action in self.actions.actions)
        for entry in entries:
            if entry.action is not None and entry.action not in names:
                raise Rejected(
                    f"entry {entry.id!r}: `action` {entry.action!r} is not an action of the "
                    f"actions file; it has: {', '.join(names) or 'none'}"
                )

    # -- what the workers serve

    def revision(self) -> int:
        with self.sessions() as session:
            return _revision(session)

    def snapshot(self) -> Snapshot:
        with self.sessions() as session:
            # The revision is read first: a change committed between the two reads is then
            # served now and read as a newer revision at the next check, never missed.
            revision = _revision(session)
            rows = session.scalars(
                select(KnowledgeEntry)
                .where(KnowledgeEntry.retired.is_(False))
                .order_by(KnowledgeEntry.position)
            ).all()
            return Snapshot(revision, tuple(parse_entry(row.content) for row in rows))

    def import_if_empty(self, knowledge_base: KnowledgeBase) -> bool:
        """Fill an empty database from the YAML file; True if it did. Two workers starting at
        once may both try: the second's insert fails and it leaves the first's."""
        with self.sessions() as session:
            if session.scalar(select(func.count()).select_from(KnowledgeEntry)):
                return False
        try:
            self.import_entries(knowledge_base.entries)
        except Conflict:
            return False
        logger.info(
            "knowledge base: %d entries imported from %s",
            len(knowledge_base),
            knowledge_base.source,
        )
        return True

    def import_entries(self, entries: tuple[Entry, ...]) -> dict[str, int]:
        """Make the live knowledge base exactly ``entries`` (a YAML file's, already checked):
        new entries are created, changed ones get a version, ones missing from it are retired;
        each change is recorded as an import. Counts of each."""
        self.check_actions(entries)
        counts = {"created": 0, "changed": 0, "retired": 0, "unchanged": 0}
        wanted = {entry.id: entry for entry in entries}
        with self._writing() as session:
            rows = {row.id: row for row in session.scalars(select(KnowledgeEntry))}
            for position, entry in enumerate(entries):
                document = entry_document(entry)
                row = rows.get(entry.id)
                if row is None:
                    row = KnowledgeEntry(id=entry.id, position=position, content=document)
                    row.version, row.retired = 0, False
                    session.add(row)
                    counts["created"] += 1
                elif row.content == document and not row.retired:
                    row.position = position
                    counts["unchanged"] += 1
                    continue
                else:
                    counts["changed"] += 1
                row.position = position
                self._change(session, row, KnowledgeAction.IMPORT, document, False, None)
            for row in rows.values():
                if row.id not in wanted and not row.retired:
                    self._change(session, row, KnowledgeAction.IMPORT, row.content, True, None)
                    counts["retired"] += 1
        return counts

    # -- what the console shows

    def entries(self) -> list[EntryState]:
        """Every entry, the retired ones too, in the knowledge base's order."""
        with self.sessions() as session:
            rows = session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.position))
            return [_state(row) for row in rows]

    def entry(self, entry_id: str) -> EntryState:
        with self.sessions() as session:
            return _state(_entry_row(session, entry_id))

    def history(self, entry_id: str) -> list[EntryVersion]:
        """Every version of the entry, newest first."""
        with self.sessions() as session:
            _entry_row(session, entry_id)
            rows = session.execute(
                select(KnowledgeVersion, Staff.name)
                .outerjoin(Staff, Staff.id == KnowledgeVersion.staff_id)
                .where(KnowledgeVersion.entry_id == entry_id)
                .order_by(KnowledgeVersion.version.desc())
            ).all()
            return [_version(row, name) for row, name in rows]

    def compare(self, entry_id: str, older: int, newer: int) -> Comparison:
        """What changed from version ``older`` to version ``newer``, field by field."""
        versions = {version.version: version for version in self.history(entry_id)}
        for number in (older, newer):
            if number not in versions:
                raise NotFound(f"entry {entry_id!r} has no version {number}")
        before, after = versions[older], versions[newer]
        changes = [
            FieldChange(name, before.content.get(name), after.content.get(name))
            for name in ENTRY_FIELDS
            if before.content.get(name) != after.content.get(name)
        ]
        if before.retired != after.retired:
            changes.append(FieldChange("retired", before.retired, after.retired))
        return Comparison(entry_id, before, after, changes)

    # -- what editors do

    def create(self, document: object, by: StaffMember) -> EntryState:
        check_editor(by)
        entry = self.validated(document)
        with self._writing() as session:
            if session.get(KnowledgeEntry, entry.id) is not None:
                raise Conflict(
                    f"an entry {entry.id!r} exists already; edit it or choose another id"
                )
            last = session.scalar(select(func.max(KnowledgeEntry.position)))
            row = KnowledgeEntry(
                id=entry.id,
                position=(last if last is not None else -1) + 1,
                content=entry_document(entry),
                retired=False,
                version=0,
            )
            session.add(row)
            self._change(session, row, KnowledgeAction.CREATE, row.content, False, by)
            return _state(row)

    def edit(
        self, entry_id: str, document: object, by: StaffMember, base_version: int | None = None
    ) -> EntryState:
        """The entry's new content. ``base_version`` is the version the editor started from:
        Conflict if someone changed the entry since, rather than overwrite their change."""
        check_editor(by)
        entry = self.validated(document)
        if entry.id != entry_id:
            raise Rejected(f"an entry's id cannot change ({entry_id!r} to {entry.id!r})")
        with self._writing() as session:
            row = _entry_row(session, entry_id)
            _check_base(row, base_version)
            if row.retired:
                raise Conflict(f"entry {entry_id!r} is retired; revert it to a version to edit it")
            content = entry_document(entry)
            if content == row.content:
                raise Rejected("nothing changed")
            self._change(session, row, KnowledgeAction.EDIT, content, False, by)
            return _state(row)

    def add_question(self, entry_id: str, question: str, by: StaffMember) -> EntryState:
        """One more way customers ask for the entry (an unanswered question, from the
        dashboard)."""
        check_editor(by)
        question = " ".join(question.split())
        if not question:
            raise Rejected("the question is empty")
        with self._writing() as session:
            row = _entry_row(session, entry_id)
            if row.retired:
                raise Conflict(f"entry {entry_id!r} is retired; revert it to a version to edit it")
            questions = list(row.content["questions"])
            if question.casefold() in (q.casefold() for q in questions):
                raise Conflict(f"entry {entry_id!r} has this question already")
            content = entry_document(
                self.validated({**row.content, "questions": [*questions, question]})
            )
            self._change(session, row, KnowledgeAction.EDIT, content, False, by)
            return _state(row)

    def retire(self, entry_id: str, by: StaffMember, base_version: int | None = None) -> EntryState:
        """The entry is no longer served; its history stays, and a revert brings it back."""
        check_editor(by)
        with self._writing() as session:
            row = _entry_row(session, entry_id)
            _check_base(row, base_version)
            if row.retired:
                raise Conflict(f"entry {entry_id!r} is retired already")
            live = session.scalar(
                select(func.count())
                .select_from(KnowledgeEntry)
                .where(KnowledgeEntry.retired.is_(False))
            )
            if live == 1:
                raise Conflict("this is the last entry; the knowledge base cannot be empty")
            self._change(session, row, KnowledgeAction.RETIRE, row.content, True, by)
            return _state(row)

    def revert(self, entry_id: str, version: int, by: StaffMember) -> EntryState:
        """A new version with the content (and retired or not) of an earlier one."""
        check_editor(by)
        with self._writing() as session:
            row = _entry_row(session, entry_id)
            earlier = session.scalar(
                select(KnowledgeVersion).where(
                    KnowledgeVersion.entry_id == entry_id, KnowledgeVersion.version == version
                )
            )
            if earlier is None:
                raise NotFound(f"entry {entry_id!r} has no version {version}")
            if earlier.content == row.content and earlier.retired == row.retired:
                raise Rejected(f"the entry is as version {version} has it already")
            self._change(
                session, row, KnowledgeAction.REVERT, earlier.content, earlier.retired, by, version
            )
            return _state(row)

    # -- how every change is written

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One transaction of changes: the whole knowledge base is checked before it commits,
        and every worker is told after. Two editors saving the same entry at once: the second
        gets a Conflict (the version number is unique per entry), not a lost change."""
        try:
            with self.sessions.begin() as session:
                yield session
                session.flush()
                live = session.scalars(
                    select(KnowledgeEntry.content).where(KnowledgeEntry.retired.is_(False))
                ).all()
                check_entries([parse_entry(content) for content in live])
        except KnowledgeBaseError as problem:
            raise Rejected(str(problem)) from None
        except IntegrityError:
            raise Conflict(
                "someone else changed the knowledge base at the same moment; load it again"
            ) from None
        self.announce()

    def _change(
        self,
        session: Session,
        row: KnowledgeEntry,
        action: KnowledgeAction,
        content: dict[str, Any],
        retired: bool,
        by: StaffMember | None,
        reverted_to: int | None = None,
    ) -> None:
        row.version += 1
        row.content, row.retired, row.updated_at = content, retired, utcnow()
        session.add(
            KnowledgeVersion(
                entry_id=row.id,
                version=row.version,
                action=action.value,
                content=content,
                retired=retired,
                staff_id=by.id if by is not None else None,
                reverted_to=reverted_to,
            )
        )

    def announce(self) -> None:
        """Every worker hears there is a new revision (each reads which from the database)."""
        self.events.publish(KNOWLEDGE_TOPIC, {"type": "knowledge", "revision": self.revision()})


def _revision(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(KnowledgeVersion)) or 0


def _entry_row(session: Session, entry_id: str) -> KnowledgeEntry:
    row = session.get(KnowledgeEntry, entry_id)
    if row is None:
        raise NotFound(f"no knowledge-base entry {entry_id!r}")
    return row


def _check_base(row: KnowledgeEntry, base_version: int | None) -> None:
    if base_version is not None and base_version != row.version:
        raise Conflict(
            f"entry {row.id!r} changed since you opened it (version {base_version}, now "
            f"{row.version}); load it again"
        )


def _state(row: KnowledgeEntry) -> EntryState:
    return EntryState(row.id, dict(row.content), row.retired, row.version, row.updated_at)


def _version(row: KnowledgeVersion, author: str | None) -> EntryVersion:
    return EntryVersion(
        row.entry_id,
        row.version,
        KnowledgeAction(row.action),
        dict(row.content),
        row.retired,
        author,
        row.created_at,
        row.reverted_to,
    )
