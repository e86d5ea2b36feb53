"""Retrieval metrics over ranked label lists."""

from __future__ import annotations

from collections.abc import Sequence


def retrieval_metrics(
    ranked: Sequence[Sequence[str]], gold: Sequence[str], ks: Sequence[int] = (1, 5)
) -> dict[str, float]:
    """``recall@k`` (share of queries with a gold label in the first k) and ``mrr``.

    ``ranked[i]`` is what was retrieved for query i, best first; ``gold[i]`` its label.
    """
    if len(ranked) != len(gold) or not gold:
        raise ValueError(f"need one ranking per query: {len(ranked)} rankings, {len(gold)} labels")
    first_hit = [
        next((rank for rank, label in enumerate(row, 1) if label == truth), None)
        for row, truth in zip(ranked, gold, strict=True)
    ]
    metrics = {
        f"recall@{k}": sum(1 for r in first_hit if r is not None and r <= k) / len(gold) for k in ks
    }
    metrics["mrr"] = sum(1 / r for r in first_hit if r is not None) / len(gold)
    return metrics
