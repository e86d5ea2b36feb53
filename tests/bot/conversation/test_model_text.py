"""Emoji as the words customers mean by them, for the model; and what the demo model then
reads in them, alone and through the escalation rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import emoji
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.conversation.model_text import for_the_model
from bot.runtime import Runtime, build_runtime
from retrieval.encoder import Encoder

NEGATIVE = ["😡", "🤬", "😤", "👎", "😭"]
POSITIVE = ["😍", "👍", "🙏", "😊"]


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("😡😡😡", "angry angry angry"),
        ("my order is late😡", "my order is late angry"),
        ("ok👌🏽 thanks", "ok good thanks"),  # a skin tone changes nothing
        ("❤️ it", "love it it"),
        ("lol 😂", "lol face with tears of joy"),  # any other emoji: its name
        ("order BC-204518 to [email]", "order BC-204518 to [email]"),
        ("  where  is\tmy order ", "where is my order"),  # ASCII alone: only the spaces change
    ],
)
def test_emoji_become_words_and_the_rest_stays(text: str, read: str) -> None:
    assert for_the_model(text) == read


def test_no_emoji_is_written_in_ascii_alone() -> None:
    """What lets for_the_model pass an ASCII message by without looking for emoji in it."""
    assert not [mark for mark in emoji.EMOJI_DATA if mark.isascii()]


@pytest.mark.real_model
@pytest.mark.parametrize("mark", NEGATIVE)
def test_the_demo_model_reads_angry_and_sad_emoji_as_negative(
    served_encoder: Encoder, mark: str
) -> None:
    ((_, prediction),) = served_encoder.read_many([for_the_model(mark * 2)])  # type: ignore[attr-defined]
    assert prediction.sentiment == "negative", mark


@pytest.mark.real_model
@pytest.mark.parametrize("mark", POSITIVE)
def test_the_demo_model_reads_happy_emoji_as_positive(served_encoder: Encoder, mark: str) -> None:
    ((_, prediction),) = served_encoder.read_many([for_the_model(mark)])  # type: ignore[attr-defined]
    assert prediction.sentiment == "positive", mark


@pytest.fixture
def demo(served_encoder: Encoder, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/demo.db", index_dir=tmp_path / "index", actions=None
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    with TestClient(create_app(settings, runtime)) as client:
        yield runtime, client
    runtime.close()


@pytest.mark.real_model
def test_two_angry_emoji_messages_in_a_row_hand_the_conversation_to_people(
    demo: tuple[Runtime, TestClient],
) -> None:
    runtime, demo_client = demo
    started = demo_client.post("/api/conversations", json={}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    url = f"/api/conversations/{started['conversation_id']}/messages"
    first = demo_client.post(url, json={"text": "😡😡😡"}, headers=auth).json()
    assert first["reply"]["decision"] != "handoff"
    assert "have a lovely day" not in first["reply"]["text"].lower()
    second = demo_client.post(url, json={"text": "🤬🤬"}, headers=auth).json()
    assert second["reply"]["decision"] == "handoff"
    assert (
        "two_negative_messages_in_a_row" in second["reply"]["decision_reason"]
        if ("decision_reason" in second["reply"])
        else True
    )
    # What is stored is what the customer wrote.
    transcript = demo_client.get(url, headers=auth).json()["messages"]
    assert transcript[0]["text"] == "😡😡😡"
