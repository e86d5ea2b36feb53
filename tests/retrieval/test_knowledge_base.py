from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from bot.config import DEMO_DIR
from retrieval.knowledge_base import Entry, KnowledgeBaseError, load_knowledge_base


def test_the_demo_knowledge_base_is_complete() -> None:
    knowledge_base = load_knowledge_base(DEMO_DIR / "knowledge_base.yaml")
    assert len(knowledge_base) >= 120
    assert len(knowledge_base.intents) >= 25
    assert all(len(entry.questions) >= 3 for entry in knowledge_base.entries)
    assert {"greeting", "thanks", "goodbye", "human_agent"} <= set(knowledge_base.intents)


def test_the_heldout_questions_name_real_entries_and_are_not_copies() -> None:
    knowledge_base = load_knowledge_base(DEMO_DIR / "knowledge_base.yaml")
    with (DEMO_DIR / "heldout_questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 150
    asked = {q.lower() for entry in knowledge_base.entries for q in entry.questions}
    for row in rows:
        assert row["entry_id"] in knowledge_base, row
        assert row["text"].lower() not in asked, row


def test_render_fills_slots_or_falls_back() -> None:
    entry = Entry("a.b", "a", ("q",), "Hi {customer_name}, order {order_id}.", "Hi there.")
    assert (
        entry.render({"customer_name": "Ann", "order_id": "BC-000001"})
        == "Hi Ann, order BC-000001."
    )
    assert entry.render({"customer_name": "Ann", "order_id": None}) == "Hi there."
    assert Entry("c.d", "c", ("q",), "Plain.").render({}) == "Plain."


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


GOOD = {"id": "x.one", "intent": "x", "questions": ["q1", "q2", "q3"], "answer": "A."}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{**GOOD, "answer": "Hi {customer_name}"}], "needs a `fallback`"),
        ([{**GOOD, "answer": "Hi {shoe_size}", "fallback": "Hi"}], "unknown slot(s) ['shoe_size']"),
        ([GOOD, GOOD], "'x.one' is used twice"),
        ([{**GOOD, "questions": []}], "entry 'x.one': `questions`"),
        ([{**GOOD, "intent": ""}], "`intent` must be a non-empty string"),
        ([{**GOOD, "answer": "Hi {customer_name", "fallback": "Hi"}], "broken slot"),
        ([], "`entries` is empty"),
    ],
)
def test_malformed_entries_are_named(tmp_path: Path, entries: list[object], message: str) -> None:
    with pytest.raises(KnowledgeBaseError) as error:
        load_knowledge_base(write(tmp_path, {"entries": entries}))
    assert message in str(error.value)


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="cannot read knowledge base"):
        load_knowledge_base(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("entries: [\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="not valid YAML"):
        load_knowledge_base(broken)
