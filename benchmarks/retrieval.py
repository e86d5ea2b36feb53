"""The held-out demo questions against the demo knowledge base: the served encoder (the NLU
bundle's, fitted to the knowledge base) with flat and HNSW indexes, and the frozen base encoder.

    python -m benchmarks.retrieval
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import machine_info, read_heldout, settings_or_exit
from bot.config import Settings


def retrieval_benchmark(settings: Settings) -> dict[str, Any]:
    from bot.runtime import served_encoder
    from retrieval.encoder import Encoder, SentenceEncoder
    from retrieval.index import IndexType
    from retrieval.knowledge_base import load_knowledge_base
    from retrieval.metrics import retrieval_metrics
    from retrieval.retriever import Retriever, build_index

    knowledge_base = load_knowledge_base(settings.knowledge_base)
    questions = read_heldout()
    gold = [entry_id for _, entry_id in questions]
    results: dict[str, Any] = {"machine": machine_info(), "queries": len(questions)}
    frozen = SentenceEncoder(settings.base_model)
    runs: list[tuple[str, Encoder, IndexType]] = [("frozen_base", frozen, "flat")]
    if settings.nlu_bundle is not None:
        served = served_encoder(settings)
        runs += [("served", served, "flat"), ("served", served, "hnsw")]
    for label, encoder, index_type in runs:
        retriever = Retriever(
            knowledge_base, encoder, build_index(knowledge_base, encoder, index_type)
        )
        ranked: list[list[str]] = []
        started = time.perf_counter()
        for text, _ in questions:
            ranked.append([hit.entry.id for hit in retriever.search(text, k=5)])
        elapsed = time.perf_counter() - started
        metrics: dict[str, Any] = retrieval_metrics(ranked, gold, ks=(1, 5))
        metrics["ms_per_query"] = 1000 * elapsed / len(questions)
        metrics["encoder"] = encoder.name
        metrics["misses_at_1"] = len(
            [1 for row, truth in zip(ranked, gold, strict=True) if not row or row[0] != truth]
        )
        results[f"{label}/{index_type}"] = metrics
    return results


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m benchmarks.retrieval",
        description="Retrieval quality and speed on the demo's held-out questions; settings "
        "(CXAGENT_KNOWLEDGE_BASE, CXAGENT_NLU_BUNDLE, CXAGENT_BASE_MODEL) from the environment.",
    ).parse_args(argv)
    results = retrieval_benchmark(settings_or_exit("benchmarks.retrieval"))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
