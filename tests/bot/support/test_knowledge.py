"""The knowledge base in the database: import, versioned edits, history, comparison, revert,
who may edit, and a worker serving the new content after a change (real database, fake
encoder)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import Conflict, Forbidden, NotFound, Rejected
from bot.live.events import EventHub
from bot.runtime import Runtime, build_runtime
from bot.support.accounts import Role, StaffMember
from bot.support.knowledge import KnowledgeAction, KnowledgeService
from retrieval.knowledge_base import KnowledgeBaseError, load_knowledge_base
from tests.fakes import FakeEncoder
from tests.helpers.service import make_settings

RETURNS = "returns.policy"


@pytest.fixture
def editors(runtime: Runtime) -> tuple[StaffMember, StaffMember]:
    editor = runtime.staff.create_account("eve", "a long password", Role.EDITOR, "Eve Editor")
    agent = runtime.staff.create_account("sam", "a long password", Role.AGENT, "Sam Support")
    return editor, agent


def test_the_yaml_file_fills_an_empty_database_once(runtime: Runtime) -> None:
    from_file = load_knowledge_base(runtime.settings.knowledge_base)
    snapshot = runtime.knowledge.snapshot()
    assert snapshot.entries == from_file.entries
    assert snapshot.revision == len(from_file)
    # Unchanged, it is served under the file's own hash: its index still matches.
    assert runtime.knowledge_base.content_hash == from_file.content_hash
    assert runtime.knowledge.import_if_empty(from_file) is False
    assert [v.action for v in runtime.knowledge.history(RETURNS)] == [KnowledgeAction.IMPORT]


def test_an_edit_is_versioned_compared_and_reverted(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, _ = editors
    before = runtime.knowledge.entry(RETURNS)
    changed = {**before.content, "answer": "You can return items within 60 days."}
    edited = runtime.knowledge.edit(RETURNS, changed, editor, base_version=before.version)
    assert (edited.version, edited.content["answer"]) == (2, changed["answer"])

    comparison = runtime.knowledge.compare(RETURNS, 1, 2)
    assert [(c.field, c.before, c.after) for c in comparison.changes] == [
        ("answer", before.content["answer"], changed["answer"])
    ]
    reverted = runtime.knowledge.revert(RETURNS, 1, editor)
    assert reverted.content == before.content and reverted.version == 3

    history = runtime.knowledge.history(RETURNS)
    assert [(v.version, v.action, v.author) for v in history] == [
        (3, KnowledgeAction.REVERT, "Eve Editor"),
        (2, KnowledgeAction.EDIT, "Eve Editor"),
        (1, KnowledgeAction.IMPORT, None),
    ]
    assert history[0].reverted_to == 1
    # An editor who started from version 2 does not overwrite the revert.
    with pytest.raises(Conflict, match="changed since you opened it"):
        runtime.knowledge.edit(RETURNS, changed, editor, base_version=2)


def test_bad_content_and_agents_are_refused_with_a_reason(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, agent = editors
    content = runtime.knowledge.entry(RETURNS).content
    with pytest.raises(Forbidden, match="editor or an admin"):
        runtime.knowledge.edit(RETURNS, {**content, "answer": "No."}, agent)
    with pytest.raises(Rejected, match="needs a `fallback`"):
        runtime.knowledge.edit(RETURNS, {**content, "answer": "Hi {customer_name}"}, editor)
    with pytest.raises(Rejected, match="unknown slot"):
        runtime.knowledge.edit(
            RETURNS, {**content, "answer": "{shoe_size}", "fallback": "x"}, editor
        )
    with pytest.raises(Rejected, match="`questions` must be a list"):
        runtime.knowledge.edit(RETURNS, {**content, "questions": []}, editor)
    with pytest.raises(Rejected, match="cannot change"):
        runtime.knowledge.edit(RETURNS, {**content, "id": "other"}, editor)
    with pytest.raises(Conflict, match="exists already"):
        runtime.knowledge.create(content, editor)
    with pytest.raises(NotFound):
        runtime.knowledge.compare(RETURNS, 1, 9)
    assert runtime.knowledge.entry(RETURNS).version == 1


def test_retired_entries_leave_the_served_knowledge_base_and_come_back(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, _ = editors
    runtime.knowledge.retire(RETURNS, editor)
    assert RETURNS not in {e.id for e in runtime.knowledge.snapshot().entries}
    with pytest.raises(Conflict, match="retired"):
        runtime.knowledge.add_question(RETURNS, "refund window?", editor)
    runtime.knowledge.revert(RETURNS, 1, editor)
    assert RETURNS in {e.id for e in runtime.knowledge.snapshot().entries}


def test_a_change_is_served_without_a_restart(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, _ = editors
    served = runtime.retriever
    created = runtime.knowledge.create(
        {
            "id": "gift.wrapping",
            "intent": "gift_wrap",
            "questions": ["Do you gift wrap?"],
            "answer": "Yes, for 3 euros.",
        },
        editor,
    )
    runtime.knowledge.add_question("gift.wrapping", "can you wrap it as a present", editor)
    assert runtime.knowledge_sync is not None
    runtime.knowledge_sync.sync()  # what the worker's thread does on the notice
    assert runtime.retriever is not served
    assert runtime.chat.retriever is runtime.retriever
    entry = runtime.knowledge_base["gift.wrapping"]
    assert entry.questions == ("Do you gift wrap?", "can you wrap it as a present")
    assert runtime.retriever.index.keys[-1] == created.id
    assert runtime.retriever.search("Do you gift wrap?", k=1)[0].entry.id == "gift.wrapping"
    assert "gift_wrap" in runtime.support.known_intents
    # The entries that did not change kept their vectors; nothing newer, nothing to do.
    before, after = served.vectors_by_text(), runtime.retriever.vectors_by_text()
    assert all((after[text] == vector).all() for text, vector in before.items())
    assert runtime.knowledge_sync.sync() is False


def served_soon(runtime: Runtime, entry_id: str, answer: str) -> bool:
    """Whether the worker's thread serves the answer within a deadline far shorter than any
    check interval these tests set, so only the path under test can have served it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if entry_id in runtime.knowledge_base and runtime.knowledge_base[entry_id].answer == answer:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_serves_a_change_on_its_notice_without_waiting_for_its_check(
    database_url: str, tmp_path: Path, mini_kb_path: Path, fake_encoder: FakeEncoder
) -> None:
    settings = make_settings(database_url, tmp_path, mini_kb_path, knowledge_check_seconds=60)
    runtime = build_runtime(settings, encoder=fake_encoder)
    try:
        editor = runtime.staff.create_account("eve", "a long password", Role.EDITOR, "Eve")
        content = runtime.knowledge.entry(RETURNS).content
        runtime.knowledge.edit(RETURNS, {**content, "answer": "Sixty days."}, editor)
        assert served_soon(runtime, RETURNS, "Sixty days.")
    finally:
        runtime.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_that_missed_the_notice_catches_up_on_its_check(
    database_url: str, tmp_path: Path, mini_kb_path: Path, fake_encoder: FakeEncoder
) -> None:
    settings = make_settings(database_url, tmp_path, mini_kb_path, knowledge_check_seconds=0.2)
    runtime = build_runtime(settings, encoder=fake_encoder)
    try:
        editor = runtime.staff.create_account("eve", "a long password", Role.EDITOR, "Eve")
        # Another process (the command line, or a worker while Redis was away): its notice
        # goes to a hub nobody here listens to.
        elsewhere = KnowledgeService(runtime.sessions, EventHub())
        content = elsewhere.entry(RETURNS).content
        elsewhere.edit(RETURNS, {**content, "answer": "Ninety days."}, editor)
        assert served_soon(runtime, RETURNS, "Ninety days.")
    finally:
        runtime.close()


def test_once_imported_the_database_is_served_even_if_the_file_is_gone(
    runtime: Runtime, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    gone = runtime.settings.model_copy(update={"knowledge_base": tmp_path / "gone.yaml"})
    again = build_runtime(gone, encoder=fake_encoder)
    try:
        assert again.knowledge_base.entries == runtime.knowledge_base.entries
    finally:
        again.close()
    fresh = gone.model_copy(update={"database_url": f"sqlite:///{tmp_path}/fresh.db"})
    with pytest.raises(KnowledgeBaseError, match="cannot read knowledge base"):
        build_runtime(fresh, encoder=fake_encoder)


def test_an_entry_names_only_an_action_the_company_has(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, _ = editors
    content = runtime.knowledge.entry(RETURNS).content
    # The test service has no actions file: no name is one of its actions.
    with pytest.raises(Rejected, match="not an action of the actions file; it has: none"):
        runtime.knowledge.edit(RETURNS, {**content, "action": "order_status"}, editor)
    with pytest.raises(Rejected, match="`action` must be the name"):
        runtime.knowledge.edit(RETURNS, {**content, "action": " "}, editor)


def test_a_comparison_shows_a_changed_action(
    runtime: Runtime, editors: tuple[StaffMember, StaffMember]
) -> None:
    editor, _ = editors
    unchecked = KnowledgeService(runtime.sessions)  # no actions file to check names against
    content = unchecked.entry(RETURNS).content
    unchecked.edit(RETURNS, {**content, "action": "start_return"}, editor)
    changes = unchecked.compare(RETURNS, 1, 2).changes
    assert [(c.field, c.before, c.after) for c in changes] == [("action", None, "start_return")]
