"""Typing noise for training: messages as people type them on phones.

Customers write "wher is my oder" and "the vouhcer isnt working", and a model trained only on
clean sentences reads those as something else. During training a share of the intent and
knowledge-base texts is passed through ``typed`` each time it is drawn, so the model sees every
row both ways, with fresh slips each epoch, at no extra training steps.

This is deliberately not the benchmark's typo generator (benchmarks/typos.py): a benchmark that
measured the model on the very noise it was trained with would flatter it.
"""

from __future__ import annotations

import random
import re

# Each letter's neighbours on a QWERTY keyboard (same row and the rows above and below).
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS: dict[str, str] = {}
for _row_number, _row in enumerate(_ROWS):
    for _column, _letter in enumerate(_row):
        _near = [_row[i] for i in (_column - 1, _column + 1) if 0 <= i < len(_row)]
        for _other in (_row_number - 1, _row_number + 1):
            if 0 <= _other < len(_ROWS):
                _near += [
                    _ROWS[_other][i]
                    for i in (_column - 1, _column, _column + 1)
                    if 0 <= i < len(_ROWS[_other])
                ]
        NEIGHBOURS[_letter] = "".join(_near)

# Words long enough to slip on: order numbers, e-mail addresses and placeholders have digits,
# "@" or brackets and are left alone, as are words of three letters or fewer.
_WORD = re.compile(r"(?<![\w@.\-\[])[A-Za-z]{4,}(?![\w@\-\]])")
# Sentence punctuation and apostrophes ("isn't" → "isnt"), never the insides of an e-mail
# address, an order number or a placeholder such as "[email]".
_PUNCTUATION = re.compile(r"[?!.,;:\"]+(?=\s|$)|(?<=[a-z])'(?=[a-z])", re.IGNORECASE)


def _slip(word: str, rng: random.Random) -> str:
    """The word with one slip of the finger: a letter dropped, doubled, swapped with the next,
    or struck as its neighbour on the keyboard."""
    at = rng.randrange(1, len(word) - 1)  # first and last letters are rarely mistyped
    kind = rng.randrange(4)
    if kind == 0:
        return word[:at] + word[at + 1 :]
    if kind == 1:
        return word[:at] + word[at] + word[at:]
    if kind == 2:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    near = NEIGHBOURS.get(word[at].lower())
    if not near:
        return word
    return word[:at] + rng.choice(near) + word[at + 1 :]


def typed(text: str, rng: random.Random, max_slips: int = 2) -> str:
    """``text`` as a hurried customer might type it: one to ``max_slips`` slips in its longer
    words and, half the time, all lower case without punctuation."""
    words = list(_WORD.finditer(text))
    if words:
        chosen = rng.sample(words, min(len(words), rng.randint(1, max_slips)))
        for match in sorted(chosen, key=lambda found: found.start(), reverse=True):
            text = text[: match.start()] + _slip(match.group(), rng) + text[match.end() :]
    if rng.random() < 0.5:
        text = _PUNCTUATION.sub("", text.lower())
    return text


def noisy(texts: list[str], rate: float, rng: random.Random) -> list[str]:
    """Each text typed with slips with probability ``rate``, the others as they are."""
    if rate <= 0:
        return texts
    return [typed(text, rng) if rng.random() < rate else text for text in texts]
