"""A model measured on the bundle's own test data, and the gate a candidate must pass: intent
accuracy, sentiment macro recall, out-of-scope recall and retrieval recall@1, none worse than
the reference by more than ``TOLERANCE_POINTS``. Shared by the ONNX export (an int8 graph
against PyTorch) and the model registry (a retrained bundle against the one serving). Free of
PyTorch: the runtimes it measures bring their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.bundle_format import BundleError
from finetune.data import LabelledTexts

# The most a quantised graph may lose on any measure, in points (0.3 = 0.003 of a rate).
TOLERANCE_POINTS = 0.3


@dataclass(frozen=True)
class TestData:
    """The bundle's own test data: what the exported graphs are measured on."""

    intents: LabelledTexts
    sentiments: LabelledTexts | None = None
    # Retrieval: questions to search for and the knowledge-base rows they should find.
    retrieval_corpus: LabelledTexts | None = None
    retrieval_queries: LabelledTexts | None = None


def load_test_data(
    intent_data: Path,
    sentiment_data: Path | None = None,
    knowledge_base: Path | None = None,
    retrieval_queries: Path | None = None,
) -> TestData:
    """Test data from its files: intents (text,intent, oos rows included), sentiments
    (text,sentiment), and for retrieval a knowledge base whose questions are searched with the
    queries (text,entry_id). Shared by export-onnx and the model registry's test set."""
    from finetune.data import load_labelled
    from finetune.reading import SENTIMENT_LABELS
    from retrieval.knowledge_base import load_knowledge_base

    if (knowledge_base is None) != (retrieval_queries is None):
        raise BundleError("a knowledge base and retrieval queries go together")
    corpus = queries = None
    if knowledge_base is not None and retrieval_queries is not None:
        entries = load_knowledge_base(knowledge_base).entries
        pairs = [(question, entry.id) for entry in entries for question in entry.questions]
        corpus = LabelledTexts([q for q, _ in pairs], [entry_id for _, entry_id in pairs])
        queries = load_labelled(retrieval_queries, "entry_id")
    return TestData(
        intents=load_labelled(intent_data, "intent"),
        sentiments=(
            load_labelled(sentiment_data, "sentiment", frozenset(SENTIMENT_LABELS))
            if sentiment_data
            else None
        ),
        retrieval_corpus=corpus,
        retrieval_queries=queries,
    )


def measure(reader: Any, encoder: Any, test: TestData) -> dict[str, float]:
    """The four measures of one runtime: ``reader`` has ``logits`` and ``info`` (an NLUBundle or
    an OnnxBundle), ``encoder`` has ``encode`` for the retrieval vectors."""
    from finetune.evaluation import intent_metrics, sentiment_metrics
    from finetune.reading import OOS_LABEL

    intents = intent_metrics(reader, test.intents)
    scores = {"intent_accuracy": float(intents["accuracy"])}
    if OOS_LABEL in test.intents.labels and "oos_recall" in intents:
        scores["oos_recall"] = float(intents["oos_recall"])
    if test.sentiments is not None and reader.info.sentiment_labels:
        scores["sentiment_macro_recall"] = float(
            sentiment_metrics(reader, test.sentiments)["macro_recall"]
        )
    if test.retrieval_corpus is not None and test.retrieval_queries is not None:
        from retrieval.evaluate import evaluate_retrieval

        corpus, queries = test.retrieval_corpus, test.retrieval_queries
        found = evaluate_retrieval(
            encoder, corpus.texts, corpus.labels, queries.texts, queries.labels
        )
        scores["retrieval_recall_at_1"] = float(found["recall@1"])
    return scores


def worse_than(candidate: dict[str, float], reference: dict[str, float]) -> str:
    """Which measures ``candidate`` loses more than the tolerance on (or lacks), or "" if none."""
    losses = [
        f"{name} {candidate.get(name, float('nan')):.4f} against {value:.4f}"
        for name, value in reference.items()
        if not (value - candidate.get(name, -math.inf)) * 100 <= TOLERANCE_POINTS
    ]
    return "; ".join(losses)
