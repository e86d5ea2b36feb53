"""Seeded, realistic typos for the robustness benchmark: one or two slips of the fingers per
message, and sometimes a message typed the lazy way (all lower case, no punctuation).

A slip is one of: a dropped letter, a doubled letter, two adjacent letters swapped, or a letter
replaced by one of its neighbours on a QWERTY keyboard. Slips fall on words of three letters or
more; order numbers (BC-123456) and e-mail addresses are never changed, not even lower-cased,
because the bot reads them as details, not words. The same seed gives the same typos.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from random import Random

# A QWERTY keyboard's letter rows and how far each is shifted right, in key widths.
KEY_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))
# Order numbers and e-mail addresses: details, kept exactly as the customer typed them.
PROTECTED = re.compile(r"\bBC-?\d{6}\b|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# A word: letters, with apostrophes inside ("don't"); digits and symbols are not words.
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
MIN_WORD_LETTERS = 3
TWO_SLIPS_P = 0.5
LOWER_CASE_P = 0.3
NO_PUNCTUATION_P = 0.3


class Slip(StrEnum):
    DROP = "drop"  # a letter left out: "delivery" -> "delivry"
    DOUBLE = "double"  # a letter typed twice: "order" -> "orrder"
    SWAP = "swap"  # two adjacent letters swapped: "refund" -> "refnud"
    NEIGHBOUR = "neighbour"  # a neighbouring key: "parcel" -> "parcwl"


def _neighbours() -> dict[str, str]:
    """Each letter's neighbours on a QWERTY keyboard: the keys beside it on its row, and the
    keys of the rows above and below whose centres are less than a key width from its own."""
    keys = [
        (letter, row, shift + column)
        for row, (letters, shift) in enumerate(KEY_ROWS)
        for column, letter in enumerate(letters)
    ]

    def touching(row: int, x: float, other_row: int, other_x: float) -> bool:
        if other_row == row:
            return abs(other_x - x) == 1.0
        return abs(other_row - row) == 1 and abs(other_x - x) < 1.0

    return {
        letter: "".join(
            other for other, other_row, other_x in keys if touching(row, x, other_row, other_x)
        )
        for letter, row, x in keys
    }


NEIGHBOURS = _neighbours()


@dataclass(frozen=True)
class SlipMade:
    """One slip: its kind, the word before and after."""

    kind: Slip
    word: str
    became: str


@dataclass(frozen=True)
class Misspelt:
    """A message with typos: the text, the slips made (in the order of the words), and whether
    it was lower-cased and its punctuation removed."""

    text: str
    slips: tuple[SlipMade, ...]
    lower_cased: bool
    unpunctuated: bool


def _letter_positions(word: str) -> list[int]:
    return [index for index, char in enumerate(word) if char.isalpha()]


def slip(word: str, kind: Slip, rng: Random) -> str:
    """``word`` with one slip of ``kind`` at a random letter. A word with no two different
    adjacent letters to swap, or no letter with a known neighbour, gets a dropped letter."""
    letters = _letter_positions(word)
    if kind is Slip.DOUBLE:
        at = rng.choice(letters)
        return word[: at + 1] + word[at:]
    if kind is Slip.SWAP:
        pairs = [i for i in letters if i + 1 in letters and word[i].lower() != word[i + 1].lower()]
        if pairs:
            at = rng.choice(pairs)
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind is Slip.NEIGHBOUR:
        keyed = [i for i in letters if word[i].lower() in NEIGHBOURS]
        if keyed:
            at = rng.choice(keyed)
            typed = rng.choice(NEIGHBOURS[word[at].lower()])
            return word[:at] + (typed.upper() if word[at].isupper() else typed) + word[at + 1 :]
    at = rng.choice(letters)
    return word[:at] + word[at + 1 :]


def _spans(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(text)]


def _slippable(text: str) -> list[tuple[int, int]]:
    """The spans of the words a slip may fall on: long enough, outside order numbers and
    e-mail addresses."""
    protected = _spans(text, PROTECTED)
    return [
        (start, end)
        for start, end in _spans(text, WORD)
        if len(_letter_positions(text[start:end])) >= MIN_WORD_LETTERS
        and not any(start < p_end and p_start < end for p_start, p_end in protected)
    ]


def _outside_protected(text: str, lower: bool, unpunctuated: bool) -> str:
    """``text`` lower-cased and/or without punctuation, except its order numbers and e-mail
    addresses."""
    pieces, last = [], 0
    for start, end in [*_spans(text, PROTECTED), (len(text), len(text))]:
        free = text[last:start].lower() if lower else text[last:start]
        pieces += [_unpunctuated(free) if unpunctuated else free, text[start:end]]
        last = end
    return re.sub(r"\s+", " ", "".join(pieces)).strip()


def _unpunctuated(text: str) -> str:
    """Apostrophes dropped ("don't" -> "dont"), other punctuation read as a space."""
    text = text.replace("'", "").replace("\u2019", "")
    return "".join(" " if unicodedata.category(char).startswith("P") else char for char in text)


def misspell(text: str, rng: Random) -> Misspelt:
    """``text`` with one or two slips on different words (none if no word is long enough),
    then perhaps lower-cased and perhaps without punctuation."""
    words = _slippable(text)
    count = min(len(words), 2 if rng.random() < TWO_SLIPS_P else 1)
    chosen = sorted(rng.sample(words, count))
    made: list[SlipMade] = []
    pieces, last = [], 0
    for start, end in chosen:
        kind = rng.choice(list(Slip))
        word = text[start:end]
        became = slip(word, kind, rng)
        made.append(SlipMade(kind, word, became))
        pieces += [text[last:start], became]
        last = end
    typed = "".join([*pieces, text[last:]])
    lower = rng.random() < LOWER_CASE_P
    unpunctuated = rng.random() < NO_PUNCTUATION_P
    if lower or unpunctuated:
        typed = _outside_protected(typed, lower, unpunctuated)
    return Misspelt(typed, tuple(made), lower, unpunctuated)


def misspell_all(texts: Sequence[str], seed: int) -> list[Misspelt]:
    """Every text misspelt, from one generator seeded with ``seed``: the same seed and texts
    give the same typos."""
    rng = Random(seed)
    return [misspell(text, rng) for text in texts]
