"""A message's questions, each read on its own, and the topic a short follow-up belongs to.

"how long does delivery take, and can I pay with PayPal?" is two questions. Read whole, the
model hears a blend of both and the retriever finds two delivery entries close together; read
one at a time, each finds its own answer. A message is split only where every part starts the
way questions start ("how", "can I", "do you"), so that "my kettle arrived broken, can I get a
refund?" stays one message: its first part says what the question is about.

"and to Scotland?" means nothing alone; after an answer about delivery times it means "how long
is delivery to Scotland?". When a message cannot be answered on its own and the conversation has
a topic, it is read again after the topic's question (``with_topic``): a second forward pass,
only on that path.
"""

from __future__ import annotations

import re

# At most this many questions are answered from one message; more is a list, not a chat turn.
MAX_QUESTIONS = 3
# Words that open a question (after "and", "also", "plus" or "oh and").
_OPENERS = (
    "how",
    "what",
    "whats",
    "what's",
    "when",
    "where",
    "wheres",
    "where's",
    "why",
    "which",
    "who",
    "can",
    "could",
    "do",
    "does",
    "did",
    "is",
    "are",
    "will",
    "would",
    "should",
    "have",
    "has",
    "may",
)
_LINKS = r"(?:(?:oh\s+)?and(?:\s+also)?|also|plus|btw|and\s+btw)"
_OPENER = rf"(?:{'|'.join(_OPENERS)})\b"
# A question ends at "?" with more to follow, at ";", or at ", and", "and also", "plus" and the
# like; or at a bare "and" that the next question's opening word follows ("how do I return it
# and how long do refunds take").
_BOUNDARY = re.compile(
    rf"(?<=\?)\s+(?:{_LINKS}\s+)?|\s*[,;]\s*{_LINKS}\s+|\s+and\s+also\s+|\s*;\s+"
    rf"|\s+and\s+(?={_OPENER})",
    re.IGNORECASE,
)
_OPENING = re.compile(rf"^(?:{_LINKS}\s+)?{_OPENER}", re.IGNORECASE)
_MIN_WORDS = 3


def split_questions(text: str) -> list[str]:
    """The message's questions, in order; the message itself when it is one question or when
    any part of a split would not be a question of its own."""
    parts = [part.strip() for part in _BOUNDARY.split(text) if part and part.strip()]
    if len(parts) < 2 or len(parts) > MAX_QUESTIONS:
        return [text]
    if all(_is_question(part) for part in parts):
        return parts
    return [text]


def _is_question(part: str) -> bool:
    return len(part.split()) >= _MIN_WORDS and _OPENING.match(part) is not None


def with_topic(topic_question: str, text: str) -> str:
    """The message read as a follow-up to the conversation's topic, as one text."""
    question = topic_question.rstrip()
    if not question.endswith(("?", ".", "!")):
        question += "?"
    return f"{question} {text}"
