"""Search the knowledge base: the best entries for a customer's question."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.encoder import Encoder
from retrieval.index import IndexMissing, IndexStale, IndexType, VectorIndex
from retrieval.knowledge_base import Entry, KnowledgeBase

logger = logging.getLogger(__name__)

# Rows fetched per entry wanted: entries have several questions each, and hits are merged per entry.
OVERFETCH = 8


@dataclass(frozen=True)
class EntryHit:
    entry: Entry
    score: float


def build_index(
    knowledge_base: KnowledgeBase, encoder: Encoder, index_type: IndexType = "flat"
) -> VectorIndex:
    texts, keys = knowledge_base.corpus()
    return VectorIndex.build(encoder, texts, keys, knowledge_base.content_hash, index_type)


def load_or_build_index(
    knowledge_base: KnowledgeBase,
    encoder: Encoder,
    index_dir: Path,
    index_type: IndexType = "flat",
    rebuild: bool = True,
) -> VectorIndex:
    """The saved index if it matches; otherwise rebuilt and saved, or refused when ``rebuild`` is off."""
    try:
        index = VectorIndex.load(index_dir)
        reason = index.metadata.stale_reason(encoder, knowledge_base.content_hash)
        if reason is None:
            return index
        problem: Exception = IndexStale(f"the index in {index_dir} is stale: {reason}")
    except (IndexMissing, IndexStale) as error:
        problem = error
    if not rebuild:
        raise type(problem)(f"{problem}; run `cxagent index` to rebuild it") from None
    logger.info("%s; rebuilding it", problem)
    index = build_index(knowledge_base, encoder, index_type)
    index.save(index_dir)
    return index


class Retriever:
    def __init__(self, knowledge_base: KnowledgeBase, encoder: Encoder, index: VectorIndex) -> None:
        unknown = set(index.keys) - {entry.id for entry in knowledge_base.entries}
        if unknown:
            raise IndexStale(f"index names entries the knowledge base lacks: {sorted(unknown)[:5]}")
        self.knowledge_base = knowledge_base
        self.encoder = encoder
        self.index = index

    def search(self, text: str, k: int = 5) -> list[EntryHit]:
        return self.search_vector(self.encoder.encode([text])[0], k)

    def search_vector(self, vector: np.ndarray, k: int = 5) -> list[EntryHit]:
        """Up to ``k`` distinct entries, best first; an entry scores as its best question."""
        (rows,) = self.index.search(vector[None, :], k * OVERFETCH)
        best: dict[str, float] = {}
        for hit in rows:
            if hit.key not in best:
                best[hit.key] = hit.score
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)[:k]
        return [EntryHit(self.knowledge_base[key], score) for key, score in ranked]
