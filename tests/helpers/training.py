"""Training data small enough for a real training run in seconds: three intents, three
sentiments, a few out-of-scope messages, and a writer for the CSV files the commands read."""

from __future__ import annotations

import csv
from pathlib import Path

INTENTS = {
    "track_order": [
        "where is my parcel",
        "has my order shipped",
        "track my delivery",
        "when will my package arrive",
        "my order is late where is it",
        "can you check my order status",
        "is my order on its way",
        "tracking for my order",
    ],
    "refund": [
        "I want my money back",
        "when will I get my refund",
        "refund my order please",
        "how long do refunds take",
        "you still have not refunded me",
        "I need a refund",
        "has my refund been processed",
        "please give me a refund",
    ],
    "password": [
        "I forgot my password",
        "reset my password",
        "cannot log in to my account",
        "my password does not work",
        "how do I change my password",
        "locked out of my account",
        "password reset email never came",
        "help me sign in",
    ],
}
SENTIMENT = {
    "negative": [
        "this is awful",
        "I am really angry",
        "worst service ever",
        "so disappointed",
        "absolutely useless",
        "I hate this",
        "terrible, never again",
        "this is a joke",
    ],
    "neutral": [
        "what are your opening hours",
        "I ordered a lamp",
        "my order number is 123",
        "do you ship to France",
        "I have a question",
        "the parcel came today",
        "which sizes are there",
        "I paid by card",
    ],
    "positive": [
        "thank you so much",
        "brilliant service",
        "I love it",
        "great, that worked",
        "you are very helpful",
        "perfect, cheers",
        "really happy with it",
        "amazing, thanks",
    ],
}
OOS = [
    "what is the weather tomorrow",
    "tell me a joke",
    "who won the football",
    "how do I bake bread",
    "what is the capital of peru",
    "play some music",
]


def write(path: Path, rows: dict[str, list[str]] | list[tuple[str, str]], column: str) -> Path:
    pairs = (
        rows if isinstance(rows, list) else [(t, label) for label, ts in rows.items() for t in ts]
    )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", column])
        writer.writerows(pairs)
    return path
