"""Measure retrieval: index a labelled corpus, search it with labelled queries."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

import numpy as np

from retrieval.encoder import Encoder
from retrieval.index import IndexType, VectorIndex
from retrieval.metrics import retrieval_metrics

ProgressCallback = Callable[[int, int], None]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def evaluate_retrieval(
    encoder: Encoder,
    corpus_texts: Sequence[str],
    corpus_labels: Sequence[str],
    query_texts: Sequence[str],
    query_labels: Sequence[str],
    index_type: IndexType = "flat",
    progress: ProgressCallback | None = None,
) -> dict[str, float | int | str]:
    """``recall@1``, ``recall@5``, ``mrr`` and ``ms_per_query``; a hit is a retrieved corpus row
    with the query's label.

    Corpus rows whose text equals a query's (case and spacing aside) are left out, so that a
    query never finds itself; how many is reported as ``excluded_duplicates``. Queries are
    encoded and searched one at a time, as a live service does, so ``ms_per_query`` is latency.
    """
    query_set = {_normalise(text) for text in query_texts}
    kept = [i for i, text in enumerate(corpus_texts) if _normalise(text) not in query_set]
    texts = [corpus_texts[i] for i in kept]
    labels = [corpus_labels[i] for i in kept]
    corpus_hash = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    index = VectorIndex.build(encoder, texts, labels, corpus_hash, index_type)

    ranked: list[list[str]] = []
    elapsed = 0.0
    for done, text in enumerate(query_texts, 1):
        started = time.perf_counter()
        vector: np.ndarray = encoder.encode([text])
        (hits,) = index.search(vector, 5)
        elapsed += time.perf_counter() - started
        ranked.append([hit.key for hit in hits])
        if progress is not None:
            progress(done, len(query_texts))
    metrics: dict[str, float | int | str] = {
        **retrieval_metrics(ranked, list(query_labels), ks=(1, 5)),
        "ms_per_query": 1000 * elapsed / len(query_texts),
        "queries": len(query_texts),
        "corpus_rows": len(texts),
        "excluded_duplicates": len(corpus_texts) - len(texts),
        "index_type": index_type,
        "encoder": encoder.name,
    }
    return metrics
