"""`cxagent export-training-data`: staff corrections and the messages the model was unsure of
come out as a CSV that `cxagent train` reads, and a bundle trained on it learns the corrections."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.cli import main
from bot.runtime import Runtime
from finetune.bundle import NLUBundle
from tests.helpers.service import log_in
from tests.helpers.training import INTENTS, write

WRONGLY_READ = "I was charged twice for my parcel"  # the fake model reads track_order
# The tiny training set, its refund examples named as the demo knowledge base's intent.
BASE_INTENTS = {
    "return_policy" if intent == "refund" else intent: texts for intent, texts in INTENTS.items()
}


@pytest.fixture
def client(desk_client: TestClient) -> TestClient:
    """This module's client talks to the staff desk (tests/bot/conftest.py)."""
    return desk_client


def chat_and_correct(client: TestClient) -> None:
    started = client.post("/api/conversations", json={}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    url = f"/api/conversations/{started['conversation_id']}/messages"
    said = {}
    for text in (
        "where is my parcel",  # confident and right: not exported
        WRONGLY_READ,
        "can I pay by card for the parcel",  # two readings: unsure
        "what is the weather like",  # out of scope
        "What is the  weather LIKE",  # the same again: once
    ):
        said[text] = client.post(url, json={"text": text}, headers=auth).json()["message"]["id"]
    agent = log_in(client, "sam")
    corrected = client.put(
        f"/api/staff/messages/{said[WRONGLY_READ]}/intent",
        json={"intent": "return_policy"},
        headers=agent,
    )
    assert corrected.status_code == 204, corrected.text


def export(runtime: Runtime, output: Path, *flags: str) -> dict[str, list[dict[str, str]]]:
    environ = {"CXAGENT_DATABASE_URL": runtime.settings.database_url}
    assert main(["export-training-data", "--output", str(output), *flags], environ=environ) == 0
    with output.open(encoding="utf-8", newline="") as handle:
        return {"rows": list(csv.DictReader(handle))}


def test_the_export_holds_corrections_and_unsure_messages_once(
    client: TestClient, desk: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chat_and_correct(client)
    rows = export(desk, tmp_path / "export.csv")["rows"]
    assert isinstance(rows, list)
    by_text = {row["text"]: row for row in rows}
    assert set(by_text) == {
        WRONGLY_READ,
        "can I pay by card for the parcel",
        "what is the weather like",
    }
    assert by_text[WRONGLY_READ]["intent"] == "return_policy"
    assert by_text[WRONGLY_READ]["source"] == "corrected"
    assert by_text[WRONGLY_READ]["predicted_intent"] == "track_order"
    assert by_text["can I pay by card for the parcel"]["source"] == "low_confidence"
    assert by_text["what is the weather like"]["intent"] == "oos"
    summary = json.loads(capsys.readouterr().out)
    assert (summary["corrected"], summary["low_confidence"], summary["duplicates_skipped"]) == (
        1,
        2,
        1,
    )
    only = export(desk, tmp_path / "corrected.csv", "--corrected-only")["rows"]
    assert [row["text"] for row in only] == [WRONGLY_READ]


@pytest.mark.real_model
# Training once is enough; the export itself is tested on both databases.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_exported_corrections_train_a_new_bundle(
    client: TestClient, desk: Runtime, tmp_path: Path
) -> None:
    chat_and_correct(client)
    exported = tmp_path / "corrections.csv"
    export(desk, exported, "--corrected-only")
    base = write(tmp_path / "intents.csv", BASE_INTENTS, "intent")
    arguments = [
        "train",
        "--intent-data", str(base),
        "--intent-data", str(exported),
        # Validate on the base rows, so the corrected row is trained on rather than held out.
        "--validation-data", str(base),
        "--output", str(tmp_path / "bundle"),
        "--epochs", "1", "--batch-size", "8", "--lora-rank", "2", "--head-layers", "2",
    ]  # fmt: skip
    assert main(arguments, environ={}) == 0
    bundle = NLUBundle.load(tmp_path / "bundle")
    assert bundle.info.data["intent_rows"] == sum(len(texts) for texts in INTENTS.values()) + 1
    assert bundle.predict([WRONGLY_READ])[0].intent == "return_policy"
