"""Loading labelled data: CSV, JSONL and saved `datasets` folders, and the errors for bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.data import DataError, load_labelled, stratified_split
from finetune.reading import SENTIMENT_LABELS

SENTIMENTS = frozenset(SENTIMENT_LABELS)


def test_csv_jsonl_and_a_saved_dataset_read_alike(tmp_path: Path) -> None:
    import datasets

    rows = [("where is my parcel", "track_order"), ("refund please", "refund")]
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text("text,intent\n" + "".join(f"{t},{i}\n" for t, i in rows))
    jsonl_file = tmp_path / "rows.jsonl"
    jsonl_file.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in rows))
    plain = tmp_path / "plain"
    datasets.Dataset.from_dict(
        {"text": [t for t, _ in rows], "intent": [i for _, i in rows]}
    ).save_to_disk(str(plain))
    # Class labels are stored as numbers and read back as their names.
    classes = datasets.ClassLabel(names=["refund", "track_order"])
    numbered = tmp_path / "numbered"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"text": [t for t, _ in rows], "intent": [classes.str2int(i) for _, i in rows]},
                features=datasets.Features({"text": datasets.Value("string"), "intent": classes}),
            )
        }
    ).save_to_disk(str(numbered))

    for source in (csv_file, jsonl_file, plain, numbered):
        data = load_labelled(source, "intent")
        assert list(zip(data.texts, data.labels, strict=True)) == rows, source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\nhi,greeting\n", "missing column(s) ['intent']"),
        ("text,intent\nhi,greeting\n ,refund\n", "row 3: empty text"),
        ("text,intent\nhi,\n", "row 2: empty intent"),
        ("text,intent\n", ": no rows"),
    ],
)
def test_bad_csv_files_name_the_file_row_and_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as raised:
        load_labelled(path, "intent")
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


def test_unknown_sentiment_and_bad_jsonl_and_missing_files_are_named(tmp_path: Path) -> None:
    sentiment = tmp_path / "s.csv"
    sentiment.write_text("text,sentiment\ngreat,positive\nmeh,lukewarm\n")
    with pytest.raises(DataError, match="row 3: unknown sentiment 'lukewarm'"):
        load_labelled(sentiment, "sentiment", SENTIMENTS)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"text": "hi", "intent": "greeting"}\n{not json\n')
    with pytest.raises(DataError, match="line 2: not JSON"):
        load_labelled(broken, "intent")
    with pytest.raises(DataError, match="cannot read"):
        load_labelled(tmp_path / "absent.csv", "intent")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_labelled(tmp_path / "notes.txt", "intent")
    empty_folder = tmp_path / "folder"
    empty_folder.mkdir()
    with pytest.raises(DataError, match="not a saved `datasets` folder"):
        load_labelled(empty_folder, "intent")


def test_stratified_split_keeps_every_label_and_is_seeded() -> None:
    from finetune.data import LabelledTexts

    data = LabelledTexts([f"t{i}" for i in range(40)], ["a"] * 30 + ["b"] * 10)
    train, test = stratified_split(data, 0.2, seed=1)
    assert sorted(test.labels) == ["a"] * 6 + ["b"] * 2
    assert len(train) + len(test) == 40
    assert stratified_split(data, 0.2, seed=1)[1].texts == test.texts
