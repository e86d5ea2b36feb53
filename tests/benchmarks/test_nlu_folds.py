"""The NLU benchmark's arithmetic and report, on made-up numbers: fold statistics, the paired
difference and its two-standard-error verdict, the folds themselves, the table and the command
line. Nothing here trains or loads a model."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from benchmarks.nlu import (
    FoldResult,
    fold_line,
    fold_positions,
    fold_summary,
    limited,
    main,
    mean_and_se,
    merged_folds,
    nlu_table,
    paired_difference,
)
from finetune.data import LabelledTexts

FROZEN = [0.90, 0.92, 0.94, 0.91, 0.93]
# Each fold's trained model a little above that fold's baseline: the spread between folds is
# large, the spread of the gain small.
TRAINED = [0.904, 0.926, 0.945, 0.915, 0.935]


def folds(frozen: list[float] = FROZEN, trained: list[float] = TRAINED) -> list[FoldResult]:
    return [
        FoldResult(
            fold=number,
            train_rows=8002 if number > 3 else 8003,
            test_rows=2001 if number > 3 else 2000,
            frozen_accuracy=f,
            trained_accuracy=t,
            training_seconds=600.0 + 10 * number,
            regression_seconds=30.0,
            seconds=650.0 + 10 * number,
        )
        for number, (f, t) in enumerate(zip(frozen, trained, strict=True), start=1)
    ]


def test_mean_and_standard_error_use_the_sample_deviation() -> None:
    mean, se = mean_and_se([0.90, 0.92, 0.94, 0.92, 0.92])
    assert mean == pytest.approx(0.92)
    # Sample standard deviation sqrt(0.0008 / 4), over sqrt(5).
    assert se == pytest.approx(math.sqrt(0.0008 / 4) / math.sqrt(5))
    assert mean_and_se([0.5, 0.5]) == (0.5, 0.0)


def test_a_standard_error_needs_two_values() -> None:
    with pytest.raises(ValueError, match="at least 2 values, not 1"):
        mean_and_se([0.9])


def test_a_small_steady_gain_beats_by_more_than_two_standard_errors_when_paired() -> None:
    difference = paired_difference(TRAINED, FROZEN)
    assert difference["mean"] == pytest.approx(0.005)
    assert difference["se"] == pytest.approx(math.sqrt(2e-6 / 4) / math.sqrt(5))
    assert difference["beats_by_more_than_2se"] is True
    # Unpaired, the same gain is well inside either mean's standard error.
    assert mean_and_se(FROZEN)[1] > difference["mean"]


def test_a_gain_that_changes_sign_between_folds_does_not() -> None:
    trained = [f + d for f, d in zip(FROZEN, [0.01, -0.01, 0.02, -0.005, 0.0], strict=True)]
    difference = paired_difference(trained, FROZEN)
    assert difference["mean"] == pytest.approx(0.003)
    assert difference["se"] == pytest.approx(math.sqrt(580e-6 / 4) / math.sqrt(5))
    assert difference["beats_by_more_than_2se"] is False


def test_a_loss_never_beats() -> None:
    assert paired_difference(FROZEN, TRAINED)["beats_by_more_than_2se"] is False


def test_the_fold_summary_adds_up_the_folds() -> None:
    summary = fold_summary(folds())
    assert summary["folds"] == 5
    assert summary["frozen_accuracy"]["mean"] == pytest.approx(0.92)
    assert summary["trained_accuracy"]["mean"] == pytest.approx(0.925)
    assert summary["trained_accuracy"]["se"] == pytest.approx(mean_and_se(TRAINED)[1])
    assert summary["difference"]["beats_by_more_than_2se"] is True
    assert summary["training_seconds"] == {"mean": pytest.approx(630.0), "max": 650.0}
    assert summary["rows_per_fold"] == {
        "train": [8003, 8003, 8003, 8002, 8002],
        "test": [2000, 2000, 2000, 2001, 2001],
    }
    first = summary["per_fold"][0]
    assert first["fold"] == 1 and first["difference"] == pytest.approx(0.004)


def test_the_progress_line_gives_the_fold_and_the_means_so_far() -> None:
    line = fold_line(folds()[:2], 5)
    assert line.startswith("banking77 fold 2/5: done in 670 s (training 620 s)")
    assert "frozen 92.0, trained 92.6" in line
    assert "mean of 2 so far: frozen 91.0, trained 91.5 (+0.5 points)" in line


def test_folds_are_stratified_and_cover_every_row_once() -> None:
    labels = [label for label in "abc" for _ in range(10)] + ["d"] * 5
    positions = fold_positions(labels, 5)
    assert len(positions) == 5
    tested = sorted(row for _, test in positions for row in test)
    assert tested == list(range(len(labels)))
    for train, test in positions:
        assert not set(train) & set(test)
        assert Counter(labels[i] for i in test) == {"a": 2, "b": 2, "c": 2, "d": 1}
    # The same seed, the same folds.
    assert fold_positions(labels, 5) == positions


def test_a_row_limit_keeps_every_label() -> None:
    data = LabelledTexts([f"text {i}" for i in range(100)], ["common"] * 90 + ["rare"] * 10)
    subset = limited(data, 20)
    assert Counter(subset.labels) == {"common": 18, "rare": 2}
    assert limited(data, None) is data and limited(data, 500) is data


MACHINE = {
    "cpu": "AMD EPYC",
    "cores": 2,
    "torch_threads": 2,
    "torch": "2.13.0+cpu",
    "python": "3.11.7",
}


def results(parts: tuple[str, ...] = ("banking77", "joint")) -> dict[str, Any]:
    made_up: dict[str, Any] = {"machine": MACHINE}
    if "banking77" in parts:
        made_up["banking77"] = {"rows": 10003, **fold_summary(folds())}
    if "joint" in parts:
        made_up["joint"] = {
            "splits": {
                "banking77": {"train": 9000, "held_out": 1003},
                "tweeteval": {"train": 11012, "held_out": 1224},
                "clinc150_oos": {"train": 100, "held_out": 100},
            },
            "tweeteval_frozen_baseline": {"macro_recall": 0.708},
            "banking77_intents_alone": {"accuracy": 0.917, "seconds": 834.0},
            "banking77_oos_tweeteval_trained": {
                "sentiment_macro_recall": 0.735,
                "oos_recall": 0.86,
                "oos_precision": 0.741,
                "in_scope_accuracy": 0.903,
                "in_scope_accuracy_drop": 0.014,
                "seconds": 1698.0,
            },
        }
    return made_up


def test_the_table_gives_folds_paired_difference_and_the_joint_run() -> None:
    table = nlu_table(results())
    lines = table.splitlines()
    assert lines[0].startswith("| task | measure | frozen encoder + LR | cxagent train |")
    assert (
        "| BANKING77 intents, 5-fold cross-validation of 10,003 rows (train 8,002-8,003, "
        "test 2,000-2,001 a fold) | accuracy, mean ± SE | 92.0 ± 0.7 | **92.5 ± 0.7** | "
        "10.5 min a fold (max 10.8) |"
    ) in lines
    assert "| +0.50 ± 0.03 points; more than 2 SE: **yes** |" in table
    assert "| macro recall | 0.708 | **0.735** | 28.3 min (joint) |" in table
    assert "**0.860** (precision 0.741)" in table
    assert "90.3 (drop 1.4 points from 91.7, intents alone on the same split)" in table
    assert "13.9 min (intents alone)" in table
    assert lines[-1].startswith("Measured on AMD EPYC (2 cores")


def test_the_table_holds_only_the_parts_that_ran() -> None:
    banking_only = nlu_table(results(("banking77",)))
    assert "BANKING77 intents" in banking_only and "TweetEval" not in banking_only
    joint_only = nlu_table(results(("joint",)))
    assert "TweetEval" in joint_only and "cross-validation" not in joint_only


def test_missing_data_stops_before_any_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "--parts", "banking77"]) == 2
    assert f"no banking77/train.csv under {tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "complaint"),
    [
        (["--parts", "banking77,sentiment"], "give one or more of banking77, joint"),
        (["--folds", "1"], "give a whole number >= 2"),
        (["--limit-rows", "0"], "give a whole number >= 1"),
    ],
)
def test_bad_options_say_what_is_allowed(
    option: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(option)
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err


def test_folds_run_in_several_sittings_add_up_to_one_summary(tmp_path: Path) -> None:
    def run(*folds: tuple[int, float, float]) -> dict[str, Any]:
        rows = [
            asdict(FoldResult(fold, 80, 20, frozen, trained, 60.0, 1.0, 70.0))
            for fold, frozen, trained in folds
        ]
        return {"banking77": {"rows": 100, "seed": 13, "frozen_c": 20.0, "per_fold": rows}}

    merged = merged_folds([run((1, 0.90, 0.92), (2, 0.91, 0.92)), run((3, 0.90, 0.93))])
    assert merged["folds"] == 3 and merged["rows"] == 100
    assert [row["fold"] for row in merged["per_fold"]] == [1, 2, 3]
    assert merged["difference"]["mean"] == pytest.approx(0.02)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"machine": MACHINE, **run((1, 0.9, 0.92), (2, 0.91, 0.92))}))
    second.write_text(json.dumps({"machine": MACHINE, **run((3, 0.9, 0.93))}))
    assert main(["--merge", str(first), str(second)]) == 0
