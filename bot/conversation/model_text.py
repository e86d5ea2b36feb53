"""The text the model reads: the stored (redacted) text, with emoji as words.

The encoder was trained on words, and reads "😡😡😡" as positive small talk. Customers write
feelings in emoji, so the common ones become the words people mean by them ("angry"), and any
other emoji its name ("face with tears of joy", from the `emoji` package's CLDR names). What is
stored and shown stays as the customer wrote it.
"""

from __future__ import annotations

import re

import emoji

# What customers mean by the emoji they use most for how a service made them feel. Each word was
# checked against the demo model's sentiment head: CLDR names such as "thumbs down" read as
# positive there.
FEELINGS = {
    "😡": "angry",
    "😠": "angry",
    "🤬": "furious",
    "😤": "frustrated",
    "👎": "bad",
    "😭": "crying, upset",
    "😢": "sad",
    "😞": "disappointed",
    "🙄": "annoyed",
    "😍": "love it",
    "❤": "love it",
    "👍": "good",
    "👌": "good",
    "🙏": "thank you",
    "😊": "happy",
    "🙂": "happy",
    "😀": "happy",
    "😃": "happy",
    "🎉": "great",
}
# Skin tones and the emoji-style selector change how an emoji looks, not what it says.
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_FEELING = re.compile("|".join(re.escape(mark) for mark in sorted(FEELINGS, key=len, reverse=True)))


def for_the_model(text: str) -> str:
    """``text`` with every emoji as words, separated from what is around it."""
    if text.isascii():
        # No emoji is written in ASCII alone, and most messages are: the search below walks
        # every character in Python (60 µs of a turn's few milliseconds).
        return " ".join(text.split())
    plain = _MODIFIERS.sub("", text)
    worded = _FEELING.sub(lambda match: f" {FEELINGS[match.group()]} ", plain)
    named = emoji.replace_emoji(worded, replace=lambda mark, data: f" {_name(data)} ")
    return " ".join(named.split())


def _name(data: dict[str, str]) -> str:
    """An emoji's CLDR name as plain words (":face_with_tears_of_joy:" → "face with tears of
    joy")."""
    return data.get("en", "").strip(":").replace("_", " ")
