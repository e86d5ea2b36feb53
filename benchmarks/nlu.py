"""Train and evaluate on public benchmark data, with held-out splits carved here (10%,
stratified, seed 13; training then holds out its own 10% for validation), next to the
frozen-encoder baselines of the same run.

    python -m benchmarks.nlu [--data-dir ../shared/data]

Two trainings: BANKING77 intents alone (the accuracy and the time of `cxagent train`), and
BANKING77 with CLINC150 out-of-scope examples and TweetEval sentiment together (the out-of-scope
decision, its cost in in-scope accuracy, and sentiment). Prints JSON, then the README's table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from benchmarks.common import machine_info, settings_or_exit
from bot.config import Settings

if TYPE_CHECKING:
    from finetune.data import LabelledTexts

DEFAULT_DATA_DIR = Path("../shared/data")
# What --data-dir must hold (the files of each public dataset, as CSV).
DATASETS = (
    "banking77/train.csv",
    "tweeteval_sentiment/train.csv",
    "clinc150_oos/oos_train.csv",
    "clinc150_oos/oos_val.csv",
)

Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")


def timed(
    function: Callable[Arguments, Result], *args: Arguments.args, **kwargs: Arguments.kwargs
) -> tuple[Result, float]:
    """(what ``function`` returned, the seconds it took)."""
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def frozen_baseline(
    base_model: str, train: LabelledTexts, test: LabelledTexts, c: float, balanced: bool = False
) -> tuple[dict[str, float], float]:
    """The frozen encoder's sentence embeddings (mean-pooled, as sentence-transformers reads
    them) with a logistic regression: (accuracy and macro scores, seconds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, recall_score

    from retrieval.encoder import SentenceEncoder

    began = time.perf_counter()
    encoder = SentenceEncoder(base_model)
    regression = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if balanced else None
    )
    regression.fit(encoder.encode(train.texts, show_progress=True), train.labels)
    predicted = list(regression.predict(encoder.encode(test.texts, show_progress=True)))
    seconds = time.perf_counter() - began
    return {
        "accuracy": float(
            sum(p == g for p, g in zip(predicted, test.labels, strict=True)) / len(test)
        ),
        "macro_f1": float(f1_score(test.labels, predicted, average="macro")),
        "macro_recall": float(recall_score(test.labels, predicted, average="macro")),
    }, seconds


def nlu_benchmark(settings: Settings, data_dir: Path) -> dict[str, Any]:
    from finetune.config import TrainingConfig
    from finetune.data import LabelledTexts, load_labelled, stratified_split
    from finetune.evaluation import intent_metrics, sentiment_metrics
    from finetune.reading import OOS_LABEL, SENTIMENT_LABELS
    from finetune.trainer import train

    banking = load_labelled(data_dir / "banking77" / "train.csv", "intent")
    banking_train, banking_test = stratified_split(banking, 0.1, 13)
    tweets = load_labelled(
        data_dir / "tweeteval_sentiment" / "train.csv", "sentiment", frozenset(SENTIMENT_LABELS)
    )
    tweets_train, tweets_test = stratified_split(tweets, 0.1, 13)
    oos_train = load_labelled(data_dir / "clinc150_oos" / "oos_train.csv", "intent")
    oos_val = load_labelled(data_dir / "clinc150_oos" / "oos_val.csv", "intent")
    config = TrainingConfig(base_model=settings.base_model)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "splits": {
            "banking77": {"train": len(banking_train), "held_out": len(banking_test)},
            "tweeteval": {"train": len(tweets_train), "held_out": len(tweets_test)},
            "clinc150_oos": {"train": len(oos_train), "held_out": len(oos_val)},
        },
    }

    baseline, seconds = frozen_baseline(settings.base_model, banking_train, banking_test, 20.0)
    results["banking77_frozen_baseline"] = {**baseline, "seconds": seconds}
    (bundle, _), seconds = timed(train, config, banking_train)
    metrics = intent_metrics(bundle, banking_test)
    results["banking77_trained"] = {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "seconds": seconds,
    }

    baseline, seconds = frozen_baseline(
        settings.base_model, tweets_train, tweets_test, 1.0, balanced=True
    )
    results["tweeteval_frozen_baseline"] = {**baseline, "seconds": seconds}
    (bundle, _), seconds = timed(
        train, config, banking_train, sentiments=tweets_train, out_of_scope=oos_train
    )
    with_oos = LabelledTexts(
        banking_test.texts + oos_val.texts, banking_test.labels + [OOS_LABEL] * len(oos_val)
    )
    oos_metrics = intent_metrics(bundle, with_oos)
    sentiment = sentiment_metrics(bundle, tweets_test)
    results["banking77_oos_tweeteval_trained"] = {
        "in_scope_accuracy": oos_metrics["in_scope_accuracy"],
        "in_scope_accuracy_drop": results["banking77_trained"]["accuracy"]
        - oos_metrics["in_scope_accuracy"],
        "oos_recall": oos_metrics["oos_recall"],
        "oos_precision": oos_metrics["oos_precision"],
        "oos_method": bundle.info.oos_method,
        "sentiment_accuracy": sentiment["accuracy"],
        "sentiment_macro_recall": sentiment["macro_recall"],
        "sentiment_macro_f1": sentiment["macro_f1"],
        "seconds": seconds,
    }
    return results


def nlu_table(results: dict[str, Any]) -> str:
    """The results as the README's markdown table."""
    base, trained = results["banking77_frozen_baseline"], results["banking77_trained"]
    tweets_base = results["tweeteval_frozen_baseline"]
    joint = results["banking77_oos_tweeteval_trained"]
    rows = [
        "| task (held-out split) | measure | frozen encoder + LR | cxagent train | training time |",
        "| --- | --- | --- | --- | --- |",
        f"| BANKING77 intents | accuracy | {100 * base['accuracy']:.1f} | "
        f"**{100 * trained['accuracy']:.1f}** | {trained['seconds'] / 60:.1f} min |",
        f"| TweetEval sentiment | macro recall | {tweets_base['macro_recall']:.3f} | "
        f"**{joint['sentiment_macro_recall']:.3f}** | {joint['seconds'] / 60:.1f} min (joint) |",
        f"| BANKING77 + CLINC150 out-of-scope | out-of-scope recall | | "
        f"**{joint['oos_recall']:.3f}** (precision {joint['oos_precision']:.3f}) | (joint) |",
        f"| BANKING77 + CLINC150 out-of-scope | in-scope accuracy | | "
        f"{100 * joint['in_scope_accuracy']:.1f} (drop "
        f"{100 * joint['in_scope_accuracy_drop']:.1f} points) | (joint) |",
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nlu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"the public datasets: {', '.join(DATASETS)} (default {DEFAULT_DATA_DIR})",
    )
    args = parser.parse_args(argv)
    missing = [name for name in DATASETS if not (args.data_dir / name).is_file()]
    if missing:
        print(
            f"benchmarks.nlu: error: no {missing[0]} under {args.data_dir}; give the folder "
            "holding the benchmark data with --data-dir",
            file=sys.stderr,
        )
        return 2
    results = nlu_benchmark(settings_or_exit("benchmarks.nlu"), args.data_dir)
    print(json.dumps(results, indent=2))
    print(nlu_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
