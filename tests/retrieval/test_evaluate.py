from __future__ import annotations

from retrieval.evaluate import evaluate_retrieval
from tests.fakes import FakeEncoder


def test_evaluate_retrieval_reports_metrics_and_leaves_out_the_queries_themselves() -> None:
    corpus = [
        "track my parcel",
        "where is my package",
        "refund my money",
        "I want a refund",
        "reset password",
    ]
    labels = ["track", "track", "refund", "refund", "account"]
    queries = ["where is my package", "refund please money", "password reset"]
    gold = ["track", "refund", "account"]
    metrics = evaluate_retrieval(FakeEncoder(), corpus, labels, queries, gold)
    assert metrics["excluded_duplicates"] == 1 and metrics["corpus_rows"] == 4
    assert metrics["recall@5"] == 1.0
    assert 0 < float(metrics["recall@1"]) <= 1.0
    assert float(metrics["ms_per_query"]) > 0
    assert set(metrics) >= {"recall@1", "recall@5", "mrr", "ms_per_query"}
