"""Evaluation: metrics, a readable report and pictures (confusion matrix, reliability diagram)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from finetune.bundle import NLUBundle
from finetune.bundle_format import is_out_of_scope, softmax
from finetune.data import LabelledTexts
from finetune.reading import OOS_LABEL

RELIABILITY_BINS = 10


def _per_class(
    gold: list[str], predicted: list[str], labels: list[str]
) -> dict[str, dict[str, float]]:
    table = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label != g)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label != p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return table


def calibration(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Expected calibration error and the reliability diagram's bins."""
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    bins, ece = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            accuracy, mean_confidence = (
                float(correct[inside].mean()),
                float(confidence[inside].mean()),
            )
            ece += inside.mean() * abs(accuracy - mean_confidence)
            bins.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "count": int(inside.sum()),
                    "accuracy": accuracy,
                    "confidence": mean_confidence,
                }
            )
    return {"ece": float(ece), "bins": bins}


def intent_metrics(
    bundle: NLUBundle, data: LabelledTexts, probs: np.ndarray | None = None
) -> dict[str, Any]:
    labels = bundle.info.intent_labels
    if probs is None:
        logits, _ = bundle.logits(data.texts)
        probs = softmax(logits, bundle.info.temperature)
    raw = [labels[i] for i in probs.argmax(axis=1)]
    gold = data.labels
    # With out-of-scope rows in the data, score the decision the service acts on (out of scope,
    # by class or by low confidence, becomes `oos`); without them, the plain best intent.
    predicted = raw
    if OOS_LABEL in gold:
        predicted = [
            OOS_LABEL if is_out_of_scope(p, labels, bundle.info.oos_threshold) else label
            for p, label in zip(probs, raw, strict=True)
        ]
    known = sorted(set(gold) | set(predicted))
    per_class = _per_class(gold, predicted, known)
    in_gold = [label for label in known if any(g == label for g in gold)]
    metrics: dict[str, Any] = {
        "accuracy": float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)])),
        "macro_f1": float(np.mean([per_class[label]["f1"] for label in in_gold])),
        "per_class": per_class,
        "confusion": {"labels": known, "matrix": _confusion(gold, predicted, known)},
        "calibration": calibration(
            probs.max(axis=1), np.array([g == r for g, r in zip(gold, raw, strict=True)])
        ),
    }
    if OOS_LABEL in gold:
        in_scope = [i for i, g in enumerate(gold) if g != OOS_LABEL]
        oos_rows = [i for i, g in enumerate(gold) if g == OOS_LABEL]
        flagged = [i for i, p in enumerate(predicted) if p == OOS_LABEL]
        metrics["in_scope_accuracy"] = float(np.mean([predicted[i] == gold[i] for i in in_scope]))
        metrics["oos_recall"] = float(np.mean([predicted[i] == OOS_LABEL for i in oos_rows]))
        metrics["oos_precision"] = (
            float(np.mean([gold[i] == OOS_LABEL for i in flagged])) if flagged else 0.0
        )
    return metrics


def sentiment_metrics(bundle: NLUBundle, data: LabelledTexts) -> dict[str, Any]:
    labels = bundle.info.sentiment_labels
    _, logits = bundle.logits(data.texts)
    if labels is None or logits is None:
        raise ValueError("this bundle has no sentiment head")
    predicted = [labels[i] for i in logits.argmax(axis=1)]
    per_class = _per_class(data.labels, predicted, labels)
    present = [label for label in labels if per_class[label]["support"]]
    return {
        "accuracy": float(np.mean([g == p for g, p in zip(data.labels, predicted, strict=True)])),
        "macro_recall": float(np.mean([per_class[label]["recall"] for label in present])),
        "macro_f1": float(np.mean([per_class[label]["f1"] for label in present])),
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": _confusion(data.labels, predicted, labels)},
    }


def _confusion(gold: list[str], predicted: list[str], labels: list[str]) -> list[list[int]]:
    position = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[position[g]][position[p]] += 1
    return matrix


def evaluate(
    bundle: NLUBundle, intents: LabelledTexts, sentiments: LabelledTexts | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "bundle": {
            "base_model": bundle.info.base_model,
            "created_at": bundle.info.created_at,
            "oos_method": bundle.info.oos_method,
            "oos_threshold": bundle.info.oos_threshold,
            "temperature": bundle.info.temperature,
        },
        "intent": intent_metrics(bundle, intents),
    }
    if sentiments is not None:
        report["sentiment"] = sentiment_metrics(bundle, sentiments)
    return report


def write_report(report: dict[str, Any], directory: Path) -> list[Path]:
    """report.json, report.md and the PNG pictures; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "report.json", directory / "report.md"]
    written[0].write_text(json.dumps(report, indent=2), encoding="utf-8")
    written.append(
        _plot_confusion(report["intent"]["confusion"], directory / "intent_confusion.png", "Intent")
    )
    written.append(
        _plot_reliability(report["intent"]["calibration"], directory / "reliability.png")
    )
    if "sentiment" in report:
        written.append(
            _plot_confusion(
                report["sentiment"]["confusion"], directory / "sentiment_confusion.png", "Sentiment"
            )
        )
    written[1].write_text(_markdown(report), encoding="utf-8")
    return written


def _markdown(report: dict[str, Any]) -> str:
    intent = report["intent"]
    lines = [
        "# Evaluation report",
        "",
        "## Intent",
        "",
        f"- accuracy: **{intent['accuracy']:.4f}**",
        f"- macro-F1: **{intent['macro_f1']:.4f}**",
        f"- expected calibration error: {intent['calibration']['ece']:.4f}",
    ]
    for key in ("in_scope_accuracy", "oos_recall", "oos_precision"):
        if key in intent:
            lines.append(f"- {key.replace('_', ' ')}: **{intent[key]:.4f}**")
    lines += [
        "",
        "![intent confusion matrix](intent_confusion.png)",
        "![reliability diagram](reliability.png)",
        "",
        "| intent | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, row in sorted(intent["per_class"].items(), key=lambda item: item[1]["f1"]):
        scores = " | ".join(f"{row[key]:.3f}" for key in ("precision", "recall", "f1"))
        lines.append(f"| {label} | {scores} | {row['support']} |")
    if "sentiment" in report:
        sentiment = report["sentiment"]
        lines += [
            "",
            "## Sentiment",
            "",
            f"- accuracy: **{sentiment['accuracy']:.4f}**",
            f"- macro recall: **{sentiment['macro_recall']:.4f}**",
            f"- macro-F1: **{sentiment['macro_f1']:.4f}**",
            "",
            "![sentiment confusion matrix](sentiment_confusion.png)",
        ]
    return "\n".join(lines) + "\n"


def _plot_confusion(confusion: dict[str, Any], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = confusion["labels"], np.array(confusion["matrix"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(5.0, 0.22 * len(labels))
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6 if len(labels) > 30 else 9)
    axes.set_yticks(range(len(labels)), labels, fontsize=6 if len(labels) > 30 else 9)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{title} confusion matrix (rows normalised)")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _plot_reliability(calibration_result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = calibration_result["bins"]
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.bar(
        [b["low"] for b in bins],
        [b["accuracy"] for b in bins],
        width=1 / RELIABILITY_BINS,
        align="edge",
        alpha=0.7,
        edgecolor="black",
        label="accuracy in bin",
    )
    axes.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        marker="o",
        color="darkred",
        label="mean confidence",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Intent reliability (ECE {calibration_result['ece']:.3f})")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
