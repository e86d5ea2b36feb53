"""Labelled text data: loading CSV / JSONL files with a clear error for every bad row, and
stratified splits."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import CxagentError


class DataError(CxagentError, ValueError):
    """A data file is missing or malformed; the message names the file, the row and the problem."""


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)


def concatenated(parts: list[LabelledTexts]) -> LabelledTexts:
    """Several files' rows as one set, in the order given."""
    return LabelledTexts(
        [text for part in parts for text in part.texts],
        [label for part in parts for label in part.labels],
    )


def load_labelled(
    path: Path, label_column: str, allowed_labels: frozenset[str] | None = None
) -> LabelledTexts:
    """Rows of ``text`` and ``label_column`` from a .csv (with header) or .jsonl file, or from a
    folder that the ``datasets`` library saved (``Dataset.save_to_disk``)."""
    if path.is_dir():
        return _checked_rows(
            path, _saved_dataset_rows(path, label_column), label_column, allowed_labels
        )
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl"}:
        raise DataError(
            f"{path}: unsupported file type {suffix!r}; "
            "use .csv, .jsonl or a folder saved by `datasets`"
        )
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        rows = (
            _csv_rows(path, handle, label_column) if suffix == ".csv" else _jsonl_rows(path, handle)
        )
        return _checked_rows(path, rows, label_column, allowed_labels)


def _checked_rows(
    path: Path,
    rows: Iterable[tuple[int, dict[str, Any]]],
    label_column: str,
    allowed_labels: frozenset[str] | None,
) -> LabelledTexts:
    texts: list[str] = []
    labels: list[str] = []
    for row_number, row in rows:
        text = row.get("text")
        label = row.get(label_column)
        where = f"{path}, row {row_number}"
        if label_column not in row:
            raise DataError(f"{where}: no `{label_column}` field")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: empty text")
        if not isinstance(label, str) or not label.strip():
            raise DataError(f"{where}: empty {label_column}")
        label = label.strip()
        if allowed_labels is not None and label not in allowed_labels:
            raise DataError(
                f"{where}: unknown {label_column} {label!r}; allowed: {sorted(allowed_labels)}"
            )
        texts.append(text.strip())
        labels.append(label)
    if not texts:
        raise DataError(f"{path}: no rows")
    return LabelledTexts(texts, labels)


def _saved_dataset_rows(path: Path, label_column: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import datasets

    try:
        saved = datasets.load_from_disk(str(path))
    except FileNotFoundError as error:
        raise DataError(f"{path}: not a saved `datasets` folder ({error})") from None
    if isinstance(saved, datasets.DatasetDict):
        if "train" not in saved:
            raise DataError(
                f"{path}: a dataset dictionary without a `train` split (it has {list(saved)}); "
                "save the split to train on by itself"
            )
        saved = saved["train"]
    missing = {"text", label_column} - set(saved.column_names)
    if missing:
        raise DataError(
            f"{path}: missing column(s) {sorted(missing)}; the dataset has {saved.column_names}"
        )
    label_feature = saved.features[label_column]
    # Class labels are stored as numbers; the names are what the model learns.
    names = label_feature.names if isinstance(label_feature, datasets.ClassLabel) else None
    for row_number, row in enumerate(saved.select_columns(["text", label_column]), start=1):
        if names is not None and isinstance(row[label_column], int):
            row = {**row, label_column: names[row[label_column]]}
        yield row_number, row


def _csv_rows(path: Path, handle, label_column: str):  # type: ignore[no-untyped-def]
    reader = csv.DictReader(handle)
    missing = {"text", label_column} - set(reader.fieldnames or [])
    if missing:
        raise DataError(
            f"{path}: missing column(s) {sorted(missing)}; the header has {reader.fieldnames}"
        )
    # Row numbers count the header as row 1, as a spreadsheet shows them.
    yield from enumerate(reader, start=2)


def _jsonl_rows(path: Path, handle):  # type: ignore[no-untyped-def]
    for row_number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}, line {row_number}: not JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {row_number}: expected a JSON object")
        yield row_number, row


def stratified_split(
    data: LabelledTexts, test_fraction: float, seed: int
) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, test), each label split alike; the same seed gives the same split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    by_label: dict[str, list[int]] = defaultdict(list)
    for position, label in enumerate(data.labels):
        by_label[label].append(position)
    rng = random.Random(seed)
    test_positions: set[int] = set()
    for label in sorted(by_label):
        positions = by_label[label]
        rng.shuffle(positions)
        # A label seen once stays in training; otherwise at least one row is held out.
        count = 0 if len(positions) < 2 else max(1, round(len(positions) * test_fraction))
        test_positions.update(positions[:count])
    train = [i for i in range(len(data)) if i not in test_positions]
    test = sorted(test_positions)
    return _subset(data, train), _subset(data, test)


def _subset(data: LabelledTexts, positions: list[int]) -> LabelledTexts:
    return LabelledTexts([data.texts[i] for i in positions], [data.labels[i] for i in positions])


def write_labelled_csv(data: LabelledTexts, path: Path, label_column: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", label_column])
        writer.writerows(zip(data.texts, data.labels, strict=True))
