from __future__ import annotations

import re
from random import Random

import pytest

from benchmarks.typos import NEIGHBOURS, PROTECTED, Slip, misspell, misspell_all, slip

MESSAGES = [
    "Where is my order BC-204518? It was due on Friday.",
    "Can you email the invoice to jo.smith@mail.example please?",
    "I'd like to return the kettle, it doesn't switch on.",
    "Do you deliver to Scotland and how much is it?",
    "hi",
    "Is it ok to pay by Klarna on bc-203749 or not?",
]


def test_the_same_seed_gives_the_same_typos() -> None:
    assert misspell_all(MESSAGES, 13) == misspell_all(MESSAGES, 13)
    assert misspell_all(MESSAGES, 13) != misspell_all(MESSAGES, 14)


@pytest.mark.parametrize("seed", range(20))
def test_a_drop_leaves_out_one_letter(seed: int) -> None:
    typed = slip("delivery", Slip.DROP, Random(seed))
    assert len(typed) == len("delivery") - 1
    assert any(typed == "delivery"[:i] + "delivery"[i + 1 :] for i in range(len("delivery")))


@pytest.mark.parametrize("seed", range(20))
def test_a_double_types_one_letter_twice(seed: int) -> None:
    typed = slip("parcel", Slip.DOUBLE, Random(seed))
    assert any(typed == "parcel"[: i + 1] + "parcel"[i:] for i in range(len("parcel")))


@pytest.mark.parametrize("seed", range(20))
def test_a_swap_exchanges_two_adjacent_different_letters(seed: int) -> None:
    typed = slip("refund", Slip.SWAP, Random(seed))
    changed = [i for i, (a, b) in enumerate(zip("refund", typed, strict=True)) if a != b]
    assert len(changed) == 2 and changed[1] == changed[0] + 1
    assert typed[changed[0]] == "refund"[changed[1]] and typed[changed[1]] == "refund"[changed[0]]


@pytest.mark.parametrize("seed", range(20))
def test_a_neighbour_is_a_key_beside_the_right_one(seed: int) -> None:
    typed = slip("Voucher", Slip.NEIGHBOUR, Random(seed))
    changed = [i for i, (a, b) in enumerate(zip("Voucher", typed, strict=True)) if a != b]
    assert len(changed) == 1
    at = changed[0]
    assert typed[at].lower() in NEIGHBOURS["Voucher"[at].lower()]
    assert typed[at].isupper() == "Voucher"[at].isupper()


def test_a_swap_with_nothing_to_swap_drops_a_letter() -> None:
    assert slip("ooo", Slip.SWAP, Random(1)) == "oo"


def test_the_keyboard_is_a_real_qwerty_one() -> None:
    assert set(NEIGHBOURS["g"]) == set("tyfhvb")
    assert set(NEIGHBOURS["a"]) == set("qwsz")
    assert set(NEIGHBOURS["p"]) == set("ol")
    assert all(letter in NEIGHBOURS[other] for letter in NEIGHBOURS for other in NEIGHBOURS[letter])


def test_one_or_two_slips_on_long_words_only() -> None:
    for misspelt in misspell_all(MESSAGES * 20, 7):
        assert len(misspelt.slips) <= 2
        for made in misspelt.slips:
            assert sum(char.isalpha() for char in made.word) >= 3
            assert made.became != made.word
    # "hi" has no word long enough: it is left as it is, or only lower-cased
    assert all(m.text in {"hi"} and not m.slips for m in misspell_all(["hi"] * 20, 3))
    assert any(len(m.slips) == 2 for m in misspell_all(MESSAGES * 5, 7))


def test_order_numbers_and_email_addresses_are_never_touched() -> None:
    for misspelt in misspell_all(MESSAGES * 50, 11):
        source = next(text for text in MESSAGES if _same_details(text, misspelt.text))
        assert [m.group(0) for m in PROTECTED.finditer(misspelt.text)] == [
            m.group(0) for m in PROTECTED.finditer(source)
        ]


def test_lazy_typing_lower_cases_and_drops_punctuation_around_the_details() -> None:
    lazy = [m for m in misspell_all(MESSAGES[:2] * 30, 5) if m.lower_cased and m.unpunctuated]
    assert lazy
    for misspelt in lazy:
        outside = PROTECTED.sub("", misspelt.text)
        assert outside == outside.lower()
        assert not any(char in outside for char in "?.,'")
        assert "BC-204518" in misspelt.text or "jo.smith@mail.example" in misspelt.text


def test_the_slips_are_the_only_changes_without_lazy_typing() -> None:
    for source, misspelt in zip(MESSAGES * 10, misspell_all(MESSAGES * 10, 2), strict=True):
        if misspelt.lower_cased or misspelt.unpunctuated:
            continue
        rebuilt = source
        for made in misspelt.slips:
            rebuilt = re.sub(rf"\b{made.word}\b", made.became, rebuilt, count=1)
        assert rebuilt == misspelt.text


def test_a_message_is_misspelt_the_same_way_by_the_same_generator_state() -> None:
    assert misspell(MESSAGES[0], Random(3)) == misspell(MESSAGES[0], Random(3))


def _same_details(source: str, typed: str) -> bool:
    return [m.group(0).upper() for m in PROTECTED.finditer(source)] == [
        m.group(0).upper() for m in PROTECTED.finditer(typed)
    ]
