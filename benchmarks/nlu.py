"""Train and evaluate on public benchmark data, next to the frozen-encoder baselines of the
same run.

    python -m benchmarks.nlu [--data-dir ../shared/data] [--folds 5] [--limit-rows N]
                             [--parts banking77,joint] [--json-out FILE]

banking77: stratified k-fold cross-validation of banking77/train.csv (shuffled, seed 13). In
each fold `cxagent train`'s recipe and the frozen encoder with a logistic regression (C=20)
learn the other folds and are scored on this one; the report gives each mean accuracy with its
standard error, and the paired difference (trained - frozen, fold by fold) with its own, which
says whether training beats the baseline by more than two standard errors.

joint: one held-out split of each set (10%, stratified, seed 13; training then holds out its own
10% for validation). BANKING77 with CLINC150 out-of-scope examples and TweetEval sentiment train
together (the out-of-scope decision and sentiment, beside the frozen sentiment baseline), and
BANKING77 intents alone train on the same split: the joint bundle's in-scope accuracy is read
against that model, so its drop is measured on one split in one run.

Progress goes to stderr, a line as each training starts and ends. The JSON result and then the
markdown table go to stdout, and the JSON to --json-out as well.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from benchmarks.common import machine_info, settings_or_exit

if TYPE_CHECKING:
    from finetune.data import LabelledTexts

DEFAULT_DATA_DIR = Path("../shared/data")
BANKING77 = "banking77/train.csv"
# What --data-dir must hold for each part (the files of each public dataset, as CSV).
PART_DATASETS = {
    "banking77": (BANKING77,),
    "joint": (
        BANKING77,
        "tweeteval_sentiment/train.csv",
        "clinc150_oos/oos_train.csv",
        "clinc150_oos/oos_val.csv",
    ),
}
PARTS = tuple(PART_DATASETS)
SEED = 13
INTENT_C = 20.0
SENTIMENT_C = 1.0

Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")
Vectors = npt.NDArray[np.float32]
# Where a progress line goes (stderr in the CLI; tests can collect them).
Progress = Callable[[str], None]


def timed(
    function: Callable[Arguments, Result], *args: Arguments.args, **kwargs: Arguments.kwargs
) -> tuple[Result, float]:
    """(what ``function`` returned, the seconds it took)."""
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


@dataclass(frozen=True)
class Options:
    folds: int = 5
    # A stratified subset of about this many rows of each training file, for a quick run.
    limit_rows: int | None = None
    parts: tuple[str, ...] = PARTS
    # Only these folds of the split (numbered from 1), to spread a long run over several
    # sittings; --merge adds their results up.
    only_folds: tuple[int, ...] = ()


@dataclass(frozen=True)
class FoldResult:
    """One fold of BANKING77: its rows, both accuracies (fractions) and seconds."""

    fold: int
    train_rows: int
    test_rows: int
    frozen_accuracy: float
    trained_accuracy: float
    training_seconds: float
    regression_seconds: float
    seconds: float


# Statistics over folds: pure, so tests give them made-up numbers.


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error of the mean: sample standard deviation / sqrt(n)); n >= 2.

    Over cross-validation folds the training sets overlap, so this standard error is the usual
    one but an optimistic one; the paired difference below cancels most of what folds share."""
    if len(values) < 2:
        raise ValueError(f"a standard error needs at least 2 values, not {len(values)}")
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def paired_difference(trained: Sequence[float], frozen: Sequence[float]) -> dict[str, Any]:
    """trained - frozen fold by fold: mean, standard error, and whether the mean is more than
    two standard errors above zero."""
    mean, se = mean_and_se([t - f for t, f in zip(trained, frozen, strict=True)])
    return {"mean": mean, "se": se, "beats_by_more_than_2se": mean > 2 * se}


def fold_summary(folds: Sequence[FoldResult]) -> dict[str, Any]:
    """The folds' results and what they add up to (accuracies as fractions, times in s)."""
    frozen = [fold.frozen_accuracy for fold in folds]
    trained = [fold.trained_accuracy for fold in folds]
    frozen_mean, frozen_se = mean_and_se(frozen)
    trained_mean, trained_se = mean_and_se(trained)
    seconds = [fold.training_seconds for fold in folds]
    return {
        "folds": len(folds),
        "per_fold": [
            {**asdict(fold), "difference": fold.trained_accuracy - fold.frozen_accuracy}
            for fold in folds
        ],
        "frozen_accuracy": {"mean": frozen_mean, "se": frozen_se},
        "trained_accuracy": {"mean": trained_mean, "se": trained_se},
        "difference": paired_difference(trained, frozen),
        "training_seconds": {"mean": statistics.fmean(seconds), "max": max(seconds)},
        "rows_per_fold": {
            "train": [fold.train_rows for fold in folds],
            "test": [fold.test_rows for fold in folds],
        },
    }


def fold_line(done: Sequence[FoldResult], folds: int) -> str:
    """The progress line as a fold ends: its numbers and the means so far."""
    last = done[-1]
    frozen = statistics.fmean(fold.frozen_accuracy for fold in done)
    trained = statistics.fmean(fold.trained_accuracy for fold in done)
    return (
        f"banking77 fold {last.fold}/{folds}: done in {last.seconds:.0f} s (training "
        f"{last.training_seconds:.0f} s); frozen {100 * last.frozen_accuracy:.1f}, trained "
        f"{100 * last.trained_accuracy:.1f}; mean of {len(done)} so far: frozen "
        f"{100 * frozen:.1f}, trained {100 * trained:.1f} ({100 * (trained - frozen):+.1f} points)"
    )


# The frozen baseline: sentence embeddings and a logistic regression.


def frozen_vectors(base_model: str, texts: list[str]) -> Vectors:
    """The frozen encoder's sentence embeddings (mean-pooled, as sentence-transformers reads
    them): one row per text."""
    from retrieval.encoder import SentenceEncoder

    return np.asarray(SentenceEncoder(base_model).encode(texts, show_progress=True), np.float32)


def regression_scores(
    train_vectors: Vectors,
    train_labels: list[str],
    test_vectors: Vectors,
    test_labels: list[str],
    c: float,
    balanced: bool = False,
) -> dict[str, float]:
    """A logistic regression fitted on the training vectors: accuracy and macro scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, recall_score

    regression = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if balanced else None
    )
    regression.fit(train_vectors, train_labels)
    predicted = list(regression.predict(test_vectors))
    return {
        "accuracy": float(
            sum(p == g for p, g in zip(predicted, test_labels, strict=True)) / len(test_labels)
        ),
        "macro_f1": float(f1_score(test_labels, predicted, average="macro")),
        "macro_recall": float(recall_score(test_labels, predicted, average="macro")),
    }


def frozen_baseline(
    base_model: str, train: LabelledTexts, test: LabelledTexts, c: float, balanced: bool = False
) -> tuple[dict[str, float], float]:
    """The frozen encoder with a logistic regression: (accuracy and macro scores, seconds)."""

    def scores() -> dict[str, float]:
        vectors = frozen_vectors(base_model, train.texts + test.texts)
        return regression_scores(
            vectors[: len(train)], train.labels, vectors[len(train) :], test.labels, c, balanced
        )

    return timed(scores)


# Data.


def rows_at(data: LabelledTexts, positions: Sequence[int]) -> LabelledTexts:
    from finetune.data import LabelledTexts

    return LabelledTexts([data.texts[i] for i in positions], [data.labels[i] for i in positions])


def limited(data: LabelledTexts, limit: int | None) -> LabelledTexts:
    """About ``limit`` rows, each label alike (at least one row of each), or all of them."""
    from finetune.data import stratified_split

    if limit is None or limit >= len(data):
        return data
    return stratified_split(data, limit / len(data), SEED)[1]


def fold_positions(labels: list[str], folds: int) -> list[tuple[list[int], list[int]]]:
    """(training rows, test rows) of each fold: stratified, shuffled, seed 13."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return [
        (train.tolist(), test.tolist())
        for train, test in splitter.split(np.zeros(len(labels)), labels)
    ]


# The BANKING77 part.


def run_fold(
    base_model: str,
    banking: LabelledTexts,
    vectors: Vectors,
    fold: int,
    positions: tuple[list[int], list[int]],
) -> FoldResult:
    """Both models learn the fold's training rows and are scored on its test rows."""
    from finetune.config import TrainingConfig
    from finetune.evaluation import intent_metrics
    from finetune.trainer import train

    began = time.perf_counter()
    train_at, test_at = positions
    fold_train, fold_test = rows_at(banking, train_at), rows_at(banking, test_at)
    frozen, regression_seconds = timed(
        regression_scores,
        vectors[train_at],
        fold_train.labels,
        vectors[test_at],
        fold_test.labels,
        INTENT_C,
    )
    (bundle, _), training_seconds = timed(train, TrainingConfig(base_model=base_model), fold_train)
    return FoldResult(
        fold=fold,
        train_rows=len(fold_train),
        test_rows=len(fold_test),
        frozen_accuracy=frozen["accuracy"],
        trained_accuracy=float(intent_metrics(bundle, fold_test)["accuracy"]),
        training_seconds=training_seconds,
        regression_seconds=regression_seconds,
        seconds=time.perf_counter() - began,
    )


def banking_folds(
    base_model: str,
    data_dir: Path,
    options: Options,
    progress: Progress,
    keep: Callable[[dict[str, Any]], None] = lambda results: None,
) -> dict[str, Any]:
    from finetune.data import load_labelled

    banking = limited(load_labelled(data_dir / BANKING77, "intent"), options.limit_rows)
    # The encoder is frozen, so a text's vector is the same in every fold: encode once.
    vectors, encoding_seconds = timed(frozen_vectors, base_model, banking.texts)
    progress(
        f"banking77: {len(banking)} rows encoded by the frozen encoder in {encoding_seconds:.0f} s"
    )
    done: list[FoldResult] = []
    about = {
        "rows": len(banking),
        "seed": SEED,
        "frozen_c": INTENT_C,
        "frozen_encoding_seconds": encoding_seconds,
    }
    for fold, positions in enumerate(fold_positions(banking.labels, options.folds), start=1):
        if options.only_folds and fold not in options.only_folds:
            continue
        progress(
            f"banking77 fold {fold}/{options.folds}: starts (train {len(positions[0])}, "
            f"test {len(positions[1])})"
        )
        done.append(run_fold(base_model, banking, vectors, fold, positions))
        progress(fold_line(done, options.folds))
        # Each fold is kept as it ends: an hour's run stopped early keeps what it measured.
        keep({"banking77": {**about, "per_fold": [asdict(result) for result in done]}})
    if len(done) < 2:  # too few for a standard error: --merge adds them to other runs
        return {**about, "per_fold": [asdict(result) for result in done]}
    return {**about, **fold_summary(done)}


def merged_folds(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The BANKING77 folds of several runs (``--json-out`` files of ``--only-folds`` runs of
    the same split) added up, as one run's summary."""
    folds = {
        row["fold"]: FoldResult(**{name: row[name] for name in FoldResult.__dataclass_fields__})
        for run in runs
        for row in run["banking77"]["per_fold"]
    }
    about = {key: runs[0]["banking77"][key] for key in ("rows", "seed", "frozen_c")}
    return {**about, **fold_summary([folds[number] for number in sorted(folds)])}


# The joint part.


@dataclass(frozen=True)
class JointData:
    banking_train: LabelledTexts
    banking_test: LabelledTexts
    tweets_train: LabelledTexts
    tweets_test: LabelledTexts
    oos_train: LabelledTexts
    oos_val: LabelledTexts

    def splits(self) -> dict[str, dict[str, int]]:
        return {
            "banking77": {"train": len(self.banking_train), "held_out": len(self.banking_test)},
            "tweeteval": {"train": len(self.tweets_train), "held_out": len(self.tweets_test)},
            "clinc150_oos": {"train": len(self.oos_train), "held_out": len(self.oos_val)},
        }


def joint_data(data_dir: Path, limit: int | None) -> JointData:
    from finetune.data import load_labelled, stratified_split
    from finetune.reading import SENTIMENT_LABELS

    banking = limited(load_labelled(data_dir / BANKING77, "intent"), limit)
    tweets = limited(
        load_labelled(
            data_dir / "tweeteval_sentiment" / "train.csv", "sentiment", frozenset(SENTIMENT_LABELS)
        ),
        limit,
    )
    return JointData(
        *stratified_split(banking, 0.1, SEED),
        *stratified_split(tweets, 0.1, SEED),
        load_labelled(data_dir / "clinc150_oos" / "oos_train.csv", "intent"),
        load_labelled(data_dir / "clinc150_oos" / "oos_val.csv", "intent"),
    )


def intents_alone(base_model: str, data: JointData) -> dict[str, float]:
    """BANKING77 intents alone on the joint part's split: what the joint bundle's in-scope
    accuracy is read against."""
    from finetune.config import TrainingConfig
    from finetune.evaluation import intent_metrics
    from finetune.trainer import train

    (bundle, _), seconds = timed(train, TrainingConfig(base_model=base_model), data.banking_train)
    metrics = intent_metrics(bundle, data.banking_test)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "seconds": seconds}


def joint_trained(base_model: str, data: JointData, intents_accuracy: float) -> dict[str, Any]:
    """BANKING77, CLINC150 out-of-scope examples and TweetEval sentiment in one bundle."""
    from finetune.config import TrainingConfig
    from finetune.data import LabelledTexts
    from finetune.evaluation import intent_metrics, sentiment_metrics
    from finetune.reading import OOS_LABEL
    from finetune.trainer import train

    (bundle, _), seconds = timed(
        train,
        TrainingConfig(base_model=base_model),
        data.banking_train,
        sentiments=data.tweets_train,
        out_of_scope=data.oos_train,
    )
    with_oos = LabelledTexts(
        data.banking_test.texts + data.oos_val.texts,
        data.banking_test.labels + [OOS_LABEL] * len(data.oos_val),
    )
    oos_metrics = intent_metrics(bundle, with_oos)
    sentiment = sentiment_metrics(bundle, data.tweets_test)
    return {
        "in_scope_accuracy": oos_metrics["in_scope_accuracy"],
        "in_scope_accuracy_drop": intents_accuracy - oos_metrics["in_scope_accuracy"],
        "oos_recall": oos_metrics["oos_recall"],
        "oos_precision": oos_metrics["oos_precision"],
        "oos_method": bundle.info.oos_method,
        "sentiment_accuracy": sentiment["accuracy"],
        "sentiment_macro_recall": sentiment["macro_recall"],
        "sentiment_macro_f1": sentiment["macro_f1"],
        "seconds": seconds,
    }


def joint_benchmark(
    base_model: str, data_dir: Path, options: Options, progress: Progress
) -> dict[str, Any]:
    data = joint_data(data_dir, options.limit_rows)
    baseline, seconds = frozen_baseline(
        base_model, data.tweets_train, data.tweets_test, SENTIMENT_C, balanced=True
    )
    progress(f"joint: TweetEval frozen baseline in {seconds:.0f} s")
    progress(f"joint: BANKING77 intents alone start (train {len(data.banking_train)})")
    alone = intents_alone(base_model, data)
    progress(
        f"joint: intents alone done in {alone['seconds']:.0f} s, accuracy "
        f"{100 * alone['accuracy']:.1f}; BANKING77 + CLINC150 oos + TweetEval start"
    )
    joint = joint_trained(base_model, data, alone["accuracy"])
    progress(
        f"joint: done in {joint['seconds']:.0f} s; oos recall {joint['oos_recall']:.3f}, "
        f"in-scope drop {100 * joint['in_scope_accuracy_drop']:.1f} points, sentiment macro "
        f"recall {joint['sentiment_macro_recall']:.3f}"
    )
    return {
        "seed": SEED,
        "splits": data.splits(),
        "tweeteval_frozen_baseline": {**baseline, "seconds": seconds},
        "banking77_intents_alone": alone,
        "banking77_oos_tweeteval_trained": joint,
    }


def nlu_benchmark(
    base_model: str,
    data_dir: Path,
    options: Options,
    progress: Progress,
    keep: Callable[[dict[str, Any]], None] = lambda results: None,
) -> dict[str, Any]:
    """The parts asked for; ``keep`` is given the results so far as each part ends, so that a
    long run's first part outlives a failure in the second."""
    results: dict[str, Any] = {"machine": machine_info(), "options": asdict(options)}
    if "banking77" in options.parts:

        def keep_folds(part: dict[str, Any]) -> None:
            keep({**results, **part})

        results["banking77"] = banking_folds(base_model, data_dir, options, progress, keep_folds)
        keep(results)
    if "joint" in options.parts:
        results["joint"] = joint_benchmark(base_model, data_dir, options, progress)
        keep(results)
    return results


# The table.


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def _banking_rows(banking: dict[str, Any]) -> list[str]:
    if "difference" not in banking:
        return ["| BANKING77 | one fold: add it to others with --merge | | | |"]
    frozen, trained = banking["frozen_accuracy"], banking["trained_accuracy"]
    difference, seconds = banking["difference"], banking["training_seconds"]
    rows = banking["rows_per_fold"]
    verdict = "yes" if difference["beats_by_more_than_2se"] else "no"
    return [
        f"| BANKING77 intents, {banking['folds']}-fold cross-validation of {banking['rows']:,} "
        f"rows (train {_span(rows['train'])}, test {_span(rows['test'])} a fold) | accuracy, "
        f"mean ± SE | {100 * frozen['mean']:.1f} ± {100 * frozen['se']:.1f} | "
        f"**{100 * trained['mean']:.1f} ± {100 * trained['se']:.1f}** | "
        f"{seconds['mean'] / 60:.1f} min a fold (max {seconds['max'] / 60:.1f}) |",
        f"| the same, paired by fold | trained - frozen, mean ± SE | | "
        f"{100 * difference['mean']:+.2f} ± {100 * difference['se']:.2f} points; more than "
        f"2 SE: **{verdict}** | |",
    ]


def _joint_rows(joint: dict[str, Any]) -> list[str]:
    tweets_base = joint["tweeteval_frozen_baseline"]
    alone, trained = joint["banking77_intents_alone"], joint["banking77_oos_tweeteval_trained"]
    splits = joint["splits"]
    return [
        f"| TweetEval sentiment (train {splits['tweeteval']['train']:,}, held out "
        f"{splits['tweeteval']['held_out']:,}) | macro recall | "
        f"{tweets_base['macro_recall']:.3f} | **{trained['sentiment_macro_recall']:.3f}** | "
        f"{trained['seconds'] / 60:.1f} min (joint) |",
        f"| BANKING77 + CLINC150 out-of-scope (train {splits['banking77']['train']:,} + "
        f"{splits['clinc150_oos']['train']:,}, held out {splits['banking77']['held_out']:,} + "
        f"{splits['clinc150_oos']['held_out']:,}) | out-of-scope recall | | "
        f"**{trained['oos_recall']:.3f}** (precision {trained['oos_precision']:.3f}) | (joint) |",
        f"| the same | in-scope accuracy | | {100 * trained['in_scope_accuracy']:.1f} (drop "
        f"{100 * trained['in_scope_accuracy_drop']:.1f} points from "
        f"{100 * alone['accuracy']:.1f}, intents alone on the same split) | "
        f"{alone['seconds'] / 60:.1f} min (intents alone) |",
    ]


def nlu_table(results: dict[str, Any]) -> str:
    """The results as the README's markdown table (the parts that ran), and the machine."""
    rows = [
        "| task | measure | frozen encoder + LR | cxagent train | training time |",
        "| --- | --- | --- | --- | --- |",
    ]
    if "banking77" in results:
        rows += _banking_rows(results["banking77"])
    if "joint" in results:
        rows += _joint_rows(results["joint"])
    machine = results["machine"]
    rows.append(
        f"\nMeasured on {machine['cpu']} ({machine['cores']} cores, {machine['torch_threads']} "
        f"torch threads, torch {machine['torch']}, Python {machine['python']})."
    )
    return "\n".join(rows)


# The command.


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give one or more of {', '.join(PARTS)}, separated by commas"
        )
    return parts


def _at_least(minimum: int) -> Callable[[str], int]:
    def number(value: str) -> int:
        if not value.isdigit() or int(value) < minimum:
            raise argparse.ArgumentTypeError(f"{value!r}: give a whole number >= {minimum}")
        return int(value)

    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nlu", description=(__doc__ or "").split("\n\n")[0]
    )
    every_file = sorted({name for names in PART_DATASETS.values() for name in names})
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"the public datasets: {', '.join(every_file)} (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--folds", type=_at_least(2), default=5, help="BANKING77 folds (default 5)")
    parser.add_argument(
        "--limit-rows",
        type=_at_least(1),
        default=None,
        help="a stratified subset of about N rows of each training file, for a quick run "
        "(default all)",
    )
    parser.add_argument(
        "--parts",
        type=_parts,
        default=PARTS,
        help=f"what to run, separated by commas (default {','.join(PARTS)})",
    )
    parser.add_argument(
        "--only-folds",
        type=_fold_numbers,
        default=(),
        help="run only these BANKING77 folds, e.g. 4,5 (to spread the run over sittings)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON result to this file")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="add up the BANKING77 folds of earlier --json-out files and print the table; "
        "trains nothing",
    )
    return parser


def _fold_numbers(value: str) -> tuple[int, ...]:
    numbers = tuple(part.strip() for part in value.split(",") if part.strip())
    if not numbers or not all(number.isdigit() and int(number) >= 1 for number in numbers):
        raise argparse.ArgumentTypeError(f"{value!r}: give fold numbers from 1, e.g. 4,5")
    return tuple(int(number) for number in numbers)


def _stderr_progress() -> Progress:
    began = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{(time.monotonic() - began) / 60:5.1f} min] {line}", file=sys.stderr, flush=True)

    return progress


def _json_writer(path: Path | None) -> Callable[[dict[str, Any]], None]:
    """What writes the results to ``path`` (nothing without one); its folder is made now, so
    that a bad path fails before an hour of training rather than after."""
    if path is None:
        return lambda results: None
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(results: dict[str, Any]) -> None:
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    return write


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.merge:
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in args.merge]
        merged = {"machine": runs[0]["machine"], "banking77": merged_folds(runs)}
        print(json.dumps(merged, indent=2))
        print(nlu_table(merged))
        return 0
    options = Options(
        folds=args.folds, limit_rows=args.limit_rows, parts=args.parts, only_folds=args.only_folds
    )
    needed = [name for part in options.parts for name in PART_DATASETS[part]]
    missing = [name for name in needed if not (args.data_dir / name).is_file()]
    if missing:
        print(
            f"benchmarks.nlu: error: no {missing[0]} under {args.data_dir}; give the folder "
            "holding the benchmark data with --data-dir",
            file=sys.stderr,
        )
        return 2
    settings = settings_or_exit("benchmarks.nlu")
    keep = _json_writer(args.json_out)
    results = nlu_benchmark(settings.base_model, args.data_dir, options, _stderr_progress(), keep)
    print(json.dumps(results, indent=2))
    print(nlu_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
