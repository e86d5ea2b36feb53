"""Spelling correction before the model reads a message: "wher is my oder" → "where is my order".

Three steps, each word on its own:
1. Chat shorthand becomes the words it stands for ("pls" → "please", "u" → "you"): the encoder
   was trained on edited text and splits "thx" into pieces that mean nothing to it.
2. A word the company's knowledge base uses, or a common English word, is left alone. A rare
   English word ("cardigan", "chucked") is too, unless one slip of the finger turns one of the
   company's words into it ("oder" for "order").
3. Any other word of four letters or more becomes the closest word that is one, from the
   company's words and common English: one edit away, two for words of six letters or more.
   Among words equally close, the one a slip of the finger explains best wins (a letter
   dropped, doubled or swapped, a neighbouring key), then the company's own, then the more
   frequent. A three-letter non-word is corrected only when one slip explains it ("gte").

The English list is the word frequency dictionary that ships with symspellpy (SymSpell's
symmetric-delete lookup, a maintained library), cut to words common enough that a typo is
unlikely to be one: "oder" is in it, as a rare word, but a shop's customer who types it means
"order". The corrections are kept with the message's reading, so staff see what the model read.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from symspellpy import SymSpell, Verbosity
from symspellpy.suggest_item import SuggestItem

from finetune.noise import NEIGHBOURS
from retrieval.knowledge_base import KnowledgeBase

# English words at least this common (counts in symspellpy's dictionary, from Google Books)
# are words, not typos: "waited" (3.9 million) and "ridiculous" (3.5 million) stay; "oder"
# (2 million) does not.
COMMON_WORD_COUNT = 2_500_000
# What customers type for what they mean, as the encoder knows it.
SHORTHAND = {
    "u": "you",
    "r": "are",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thank you",
    "im": "I'm",
    "ive": "I've",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "isnt": "isn't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "wasnt": "wasn't",
    "arent": "aren't",
    "wheres": "where's",
    "whats": "what's",
    "thats": "that's",
    "idk": "I don't know",
    "asap": "as soon as possible",
    "b4": "before",
    "2day": "today",
    "tmrw": "tomorrow",
    "msg": "message",
    "pw": "password",
    "acc": "account",
    "addr": "address",
}
# Words (letters and digits, apostrophes inside) not part of an e-mail address, an order number
# or a placeholder such as "[email]".
_WORD = re.compile(r"(?<![\w@.\-\[])[A-Za-z0-9]+(?:'[A-Za-z]+)?(?![\w@\-\]])")
_SHORTEST_CORRECTED = 4
_SHORTEST_SLIP = 3


@dataclass(frozen=True)
class Corrected:
    text: str  # the text with shorthand spelt out and misspelt words replaced
    corrections: Mapping[str, str] = field(default_factory=dict)  # {as typed: as read}


class Speller:
    """Corrects misspelt words against a company's vocabulary and common English."""

    def __init__(self, company_texts: Iterable[str]) -> None:
        words = (word.lower() for text in company_texts for word in _WORD.findall(text))
        counts = Counter(word for word in words if word.isalpha())
        self._company = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in counts.items():
            self._company.create_dictionary_entry(word, count)
        self._known = set(counts)
        _english()  # read the word list now, at start-up, not in the first customer's turn

    @classmethod
    def of(cls, knowledge_base: KnowledgeBase) -> Speller:
        """A speller for the words the company writes and is asked, in its knowledge base."""
        return cls(
            text
            for entry in knowledge_base.entries
            for text in (*entry.questions, entry.answer, entry.fallback or "")
        )

    def correct(self, text: str) -> Corrected:
        corrections: dict[str, str] = {}

        def replaced(match: re.Match[str]) -> str:
            typed = match.group()
            better = self._word(typed.lower())
            if better is None:
                return typed
            better = _cased(typed, better)
            corrections[typed] = better
            return better

        return Corrected(_WORD.sub(replaced, text), corrections)

    def _word(self, word: str) -> str | None:
        """The word's correction, or None when it is a word already or nothing is close."""
        if word in SHORTHAND:
            return SHORTHAND[word]
        english = _english()
        # Contractions ("who's") and words with digits are written as meant.
        if len(word) < _SHORTEST_SLIP or not word.isalpha():
            return None
        if word in self._known or word in english.common:
            return None
        if word in english.rare:
            # A rare word ("cardigan", "chucked") is meant, unless one slip away from one of
            # the company's own words ("oder" → "order").
            found = self._company.lookup(word, Verbosity.CLOSEST, max_edit_distance=1)
            slips = [item for item in found if is_slip(word, item.term)]
            return str(max(slips, key=lambda item: item.count).term) if slips else None
        distance = 2 if len(word) >= 6 else 1
        company = self._company.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        common = english.lookup.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        candidates = [(item, True) for item in company] + [(item, False) for item in common]
        if len(word) < _SHORTEST_CORRECTED:
            # Three letters: only a slip away ("gte" → "get"), or it may be a name or a code.
            candidates = [(item, ours) for item, ours in candidates if is_slip(word, item.term)]
        if not candidates:
            return None
        best, _ = min(candidates, key=lambda candidate: _rank(word, *candidate))
        return str(best.term)


def _cased(typed: str, meant: str) -> str:
    """``meant`` capitalised as ``typed`` was ("Brightccart" → "Brightcart")."""
    return meant[:1].upper() + meant[1:] if typed[:1].isupper() else meant


def _rank(typed: str, suggestion: SuggestItem, ours: bool) -> tuple[int, int, int, int]:
    """Closer first ("artner" is "partner", not the company's "after" two edits away), then the
    likelier slip, then the company's own word, then the more frequent."""
    slip = 0 if is_slip(typed, suggestion.term) else 1
    return suggestion.distance, slip, 0 if ours else 1, -suggestion.count


def is_slip(typed: str, meant: str) -> bool:
    """Whether one slip of the finger turns ``meant`` into ``typed``: a letter dropped or
    doubled, two letters swapped, or a neighbouring key struck."""
    if len(typed) + 1 == len(meant):
        return any(meant[:at] + meant[at + 1 :] == typed for at in range(len(meant)))
    if len(typed) == len(meant) + 1:
        return any(
            typed[:at] + typed[at + 1 :] == meant and typed[at] == typed[at - 1]
            for at in range(1, len(typed))
        )
    if len(typed) != len(meant):
        return False
    differ = [at for at in range(len(typed)) if typed[at] != meant[at]]
    if len(differ) == 2 and differ[1] == differ[0] + 1:
        first, second = differ
        return typed[first] == meant[second] and typed[second] == meant[first]
    return len(differ) == 1 and typed[differ[0]] in NEIGHBOURS.get(meant[differ[0]], "")


@dataclass(frozen=True)
class English:
    lookup: SymSpell  # the common words, to correct towards
    common: frozenset[str]  # words common enough never to be typos
    rare: frozenset[str]  # real words, but rare enough that a slip may have made them


@functools.cache
def _english() -> English:
    """The English word list, read once per process (about two seconds)."""
    listing = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    lookup = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    common, rare = set(), set()
    for line in listing.read_text(encoding="utf-8").splitlines():
        word, count = line.split()
        if int(count) >= COMMON_WORD_COUNT:
            lookup.create_dictionary_entry(word, int(count))
            common.add(word)
        else:
            rare.add(word)
    return English(lookup, frozenset(common), frozenset(rare))
