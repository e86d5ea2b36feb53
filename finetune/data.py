"""Labelled text data: loading CSV / JSONL files with a clear error for every bad row, and
stratified splits."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


class DataError(ValueError):
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


def load_labelled(
    path: Path, label_column: str, allowed_labels: frozenset[str] | None = None
) -> LabelledTexts:
    """Rows of ``text`` and ``label_column`` from a .csv (with header) or .jsonl file."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl"}:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    texts: list[str] = []
    labels: list[str] = []
    with handle:
        rows = (
            _csv_rows(path, handle, label_column) if suffix == ".csv" else _jsonl_rows(path, handle)
        )
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
