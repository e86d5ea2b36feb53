"""A message's questions, each read on its own, and the topic a short follow-up belongs to.

"how long does delivery take, and can I pay with PayPal?" is two questions. Read whole, the
model hears a blend of both and the retriever finds two delivery entries close together; read
one at a time, each finds its own answer. A message is split only where every part starts the
way questions start ("how", "can I", "do you"), so that "my kettle arrived broken, can I get a
refund?" stays one message: its first part says what the question is about.

A short further question that points back ("how do the points work and do they run out") is
read after the question before it (``in_context``).

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
# Words that open a second topic, before the next question's opening word.
_NEW_TOPIC = re.compile(
    rf"\s*[,;.]?\s+(?:(?:and|oh and)\s+)?(?:also|plus|btw)[,]?\s+(?={_OPENER})", re.IGNORECASE
)
_OPENING = re.compile(rf"^(?:{_LINKS}\s+)?{_OPENER}", re.IGNORECASE)
_MIN_WORDS = 3


def split_questions(text: str) -> list[str]:
    """The message's questions, in order; the message itself when it is one question or when
    any part of a split would not be a question of its own. After "also", "plus" or "btw" the
    first part may say what the matter is ("i forgot my password, also how do i change my
    email"): those words open a second topic, where "and" may join one."""
    parts = _parts(_BOUNDARY, text)
    if 2 <= len(parts) <= MAX_QUESTIONS and all(_is_question(part) for part in parts):
        return parts
    parts = _parts(_NEW_TOPIC, text)
    if len(parts) == 2 and len(parts[0].split()) >= _MIN_WORDS and _is_question(parts[1]):
        return parts
    return [text]


def _parts(boundary: re.Pattern[str], text: str) -> list[str]:
    return [part.strip() for part in boundary.split(text) if part and part.strip()]


def _is_question(part: str) -> bool:
    return len(part.split()) >= _MIN_WORDS and _OPENING.match(part) is not None


def with_topic(topic_question: str, text: str) -> str:
    """The message read as a follow-up to the conversation's topic, as one text."""
    question = topic_question.rstrip()
    if not question.endswith(("?", ".", "!")):
        question += "?"
    return f"{question} {text}"


# Words that point back to what the message said before ("do they run out").
_POINTING_BACK = re.compile(r"\b(it|its|they|them|their|that|those|these|this|ones?)\b", re.I)
_SHORT_QUESTION_WORDS = 7


def in_context(questions: list[str]) -> list[str]:
    """What the model is to read for each question: a short further question that points back
    ("how do the points work and do they run out") is read after the question before it."""
    return [questions[0]] + [
        with_topic(before, question) if _points_back(question) else question
        for before, question in zip(questions, questions[1:], strict=False)
    ]


def _points_back(question: str) -> bool:
    return (
        len(question.split()) <= _SHORT_QUESTION_WORDS
        and _POINTING_BACK.search(question) is not None
    )
