from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.index import IndexMissing, IndexStale, VectorIndex
from retrieval.knowledge_base import load_knowledge_base
from retrieval.metrics import retrieval_metrics
from retrieval.retriever import Retriever, build_index, load_or_build_index, shipped_index_dir
from tests.fakes import FakeEncoder

_WORDS = [
    "order",
    "parcel",
    "refund",
    "card",
    "account",
    "password",
    "delivery",
    "return",
    "size",
    "colour",
    "gift",
    "voucher",
    "kettle",
    "lamp",
]
_rng = np.random.default_rng(7)
TEXTS = [" ".join(_rng.choice(_WORDS, size=5)) + f" item{i}" for i in range(400)]
KEYS = [f"topic-{i % 7}" for i in range(400)]


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_each_index_type_finds_the_row_itself(fake_encoder: FakeEncoder, index_type: str) -> None:
    index = VectorIndex.build(fake_encoder, TEXTS, KEYS, "h", index_type)  # type: ignore[arg-type]
    hits = index.search(fake_encoder.encode(TEXTS[:50]), 5)
    found = sum(1 for i, row in enumerate(hits) if row and row[0].corpus_id == i)
    assert found >= 45  # approximate indexes may miss a few
    assert all(row[0].score >= row[-1].score for row in hits)
    assert hits[0][0].key == KEYS[0]


def test_save_and_load_give_the_same_results(fake_encoder: FakeEncoder, tmp_path: Path) -> None:
    index = VectorIndex.build(fake_encoder, TEXTS, KEYS, "h")
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    queries = fake_encoder.encode(["refund card item3", "kettle lamp"])
    assert loaded.search(queries, 5) == index.search(queries, 5)
    assert loaded.metadata == index.metadata
    assert loaded.metadata.encoder_fingerprint == "fake-v1" and loaded.metadata.rows == 400


def test_stale_reasons(fake_encoder: FakeEncoder) -> None:
    metadata = VectorIndex.build(fake_encoder, TEXTS, KEYS, "h").metadata
    assert metadata.stale_reason(fake_encoder, "h") is None
    assert "changed" in (metadata.stale_reason(fake_encoder, "other") or "")
    assert "weights differ" in (metadata.stale_reason(FakeEncoder(fingerprint="v2"), "h") or "")


def test_missing_or_stale_index_is_rebuilt_or_refused(
    fake_encoder: FakeEncoder, mini_kb_path: Path, tmp_path: Path
) -> None:
    knowledge_base = load_knowledge_base(mini_kb_path)
    index_dir = tmp_path / "index"
    with pytest.raises(IndexMissing, match="cxagent index"):
        load_or_build_index(knowledge_base, fake_encoder, index_dir, rebuild=False)
    built = load_or_build_index(knowledge_base, fake_encoder, index_dir)
    assert (index_dir / "index.faiss").is_file()
    assert built.metadata.corpus_hash == knowledge_base.content_hash

    mini_kb_path.write_text(mini_kb_path.read_text() + "\n# edited\n")
    edited = load_knowledge_base(mini_kb_path)
    with pytest.raises(IndexStale, match="knowledge base has changed.*cxagent index"):
        load_or_build_index(edited, fake_encoder, index_dir, rebuild=False)
    with pytest.raises(IndexStale, match="weights differ"):
        load_or_build_index(knowledge_base, FakeEncoder(fingerprint="v2"), index_dir, rebuild=False)
    rebuilt = load_or_build_index(edited, fake_encoder, index_dir)
    assert rebuilt.metadata.corpus_hash == edited.content_hash

    (index_dir / "index.json").write_text("{broken")
    with pytest.raises(IndexStale, match="unreadable"):
        load_or_build_index(edited, fake_encoder, index_dir, rebuild=False)


def test_a_current_shipped_index_is_used_instead_of_building_one(
    fake_encoder: FakeEncoder, mini_kb_path: Path, tmp_path: Path
) -> None:
    knowledge_base = load_knowledge_base(mini_kb_path)
    shipped = shipped_index_dir(mini_kb_path)
    build_index(knowledge_base, fake_encoder).save(shipped)
    calls = fake_encoder.calls
    index = load_or_build_index(knowledge_base, fake_encoder, tmp_path / "index", shipped=shipped)
    assert fake_encoder.calls == calls  # nothing encoded: copied
    assert (tmp_path / "index" / "index.faiss").is_file()
    assert index.keys == [entry.id for entry in knowledge_base.entries]
    # Shipped for another encoder: not used, built instead (or refused without rebuilding).
    other = FakeEncoder(fingerprint="v2")
    with pytest.raises(IndexMissing):
        load_or_build_index(
            knowledge_base, other, tmp_path / "other", rebuild=False, shipped=shipped
        )
    load_or_build_index(knowledge_base, other, tmp_path / "other", shipped=shipped)
    assert other.calls > 0


def test_the_demo_ships_a_current_index_for_its_bundle() -> None:
    # A first start of the demo loads it instead of encoding every question (most of a start).
    from bot.config import DEMO_DIR
    from finetune.bundle_format import read_info, vectors_fingerprint

    knowledge_base = load_knowledge_base(DEMO_DIR / "knowledge_base.yaml")
    bundle = DEMO_DIR / "models" / "nlu-demo"
    shipped = VectorIndex.load(shipped_index_dir(DEMO_DIR / "knowledge_base.yaml"))
    fingerprint = vectors_fingerprint(bundle, read_info(bundle).base_fingerprint)
    assert shipped.metadata.encoder_fingerprint == fingerprint, (
        "rebuild it: CXAGENT_INDEX_DIR=data/knowledge_base.index cxagent index"
    )
    assert shipped.metadata.corpus_hash == knowledge_base.content_hash
    assert shipped.keys == [entry.id for entry in knowledge_base.entries]


def test_retriever_scores_each_entry_once(fake_encoder: FakeEncoder, mini_kb_path: Path) -> None:
    knowledge_base = load_knowledge_base(mini_kb_path)
    index = build_index(knowledge_base, fake_encoder)
    assert index.keys == [entry.id for entry in knowledge_base.entries]
    retriever = Retriever(knowledge_base, fake_encoder, index)
    hits = retriever.search("has my package shipped", k=4)
    assert hits[0].entry.id == "track_order.where"
    assert len({hit.entry.id for hit in hits}) == len(hits) == 4
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_retrieval_metrics() -> None:
    ranked = [["a", "b"], ["b", "a"], ["c", "d"]]
    metrics = retrieval_metrics(ranked, ["a", "a", "a"], ks=(1, 2))
    assert metrics == {
        "recall@1": pytest.approx(1 / 3),
        "recall@2": pytest.approx(2 / 3),
        "mrr": pytest.approx(0.5),
    }
    with pytest.raises(ValueError):
        retrieval_metrics([["a"]], ["a", "b"])


def test_vectors_are_unit_length(fake_encoder: FakeEncoder) -> None:
    vectors = fake_encoder.encode(["hello there", "x"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


class CountingEncoder(FakeEncoder):
    """Counts the texts it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return super().encode(texts)


def test_an_updated_index_encodes_only_changed_entries_and_equals_a_full_build(
    mini_kb_path: Path,
) -> None:
    from dataclasses import replace

    from retrieval.knowledge_base import KnowledgeBase, entries_hash
    from retrieval.retriever import updated_index

    encoder = CountingEncoder()
    before = load_knowledge_base(mini_kb_path)
    previous = Retriever(before, encoder, build_index(before, encoder))
    first, *others = before.entries
    changed = replace(first, questions=(*first.questions, "is my parcel lost"))
    entries = (changed, *others)
    after = KnowledgeBase(entries, entries_hash(entries))

    encoder.encoded = 0
    updated = updated_index(previous, after)
    assert encoder.encoded == len(changed.questions) + 1  # its questions and its answer
    full = build_index(after, encoder)
    assert updated.keys == full.keys
    assert updated.metadata.corpus_hash == after.content_hash
    assert np.allclose(
        updated.index.reconstruct_n(0, len(entries)), full.index.reconstruct_n(0, len(entries))
    )
