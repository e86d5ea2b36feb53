"""Typing noise for training: slips where people make them, never in what must stay exact."""

from __future__ import annotations

import random

from finetune.noise import NEIGHBOURS, noisy, typed


def test_a_typed_message_has_one_or_two_slips_and_keeps_its_words_in_order() -> None:
    rng = random.Random(3)
    text = "Where is my parcel and when does the courier arrive"
    changes = []
    for _ in range(200):
        slipped = typed(text, rng).split()
        assert len(slipped) == len(text.split())
        changes.append(
            sum(a.lower() != b.lower() for a, b in zip(text.split(), slipped, strict=True))
        )
    assert max(changes) <= 2
    # A swap of two equal letters ("arrive") changes nothing; every other slip shows.
    assert sum(change >= 1 for change in changes) >= 190
    assert 2 in changes


def test_order_numbers_addresses_and_placeholders_never_slip() -> None:
    rng = random.Random(5)
    for _ in range(200):
        out = typed("order BC-204518 for [email] from priya@example.com please", rng)
        assert "bc-204518" in out.lower()
        assert "[email]" in out
        assert "priya@example.com" in out


def test_the_same_seed_types_the_same_slips() -> None:
    texts = ["The voucher isn't being accepted", "Can I pay with Klarna?"] * 5
    assert noisy(texts, 0.5, random.Random(9)) == noisy(texts, 0.5, random.Random(9))
    assert noisy(texts, 0.0, random.Random(9)) == texts


def test_neighbouring_keys_are_the_keyboards_own() -> None:
    assert set("wsad") <= set(NEIGHBOURS["q"] + NEIGHBOURS["e"] + NEIGHBOURS["s"])
    assert "p" not in NEIGHBOURS["a"]
    assert "g" in NEIGHBOURS["h"] and "j" in NEIGHBOURS["h"]
