"""Messages read together run in passes of like length (retrieval.encoder.padding_groups)."""

from __future__ import annotations

import itertools
import random

from retrieval.encoder import padding_groups

PASS_COST = 8


def cost(lengths: list[int], groups: list[list[int]]) -> int:
    return sum(PASS_COST + len(group) * max(lengths[i] for i in group) for group in groups)


def cheapest_by_trying_every_split(lengths: list[int]) -> int:
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best = None
    for cuts in itertools.product((False, True), repeat=len(order) - 1):
        groups, current = [], [order[0]]
        for index, cut in zip(order[1:], cuts, strict=True):
            if cut:
                groups.append(current)
                current = []
            current.append(index)
        groups.append(current)
        found = cost(lengths, groups)
        best = found if best is None else min(best, found)
    assert best is not None
    return best


def test_every_message_is_in_one_pass_and_the_split_costs_least() -> None:
    chance = random.Random(7)
    for _ in range(200):
        lengths = [chance.randint(3, 60) for _ in range(chance.randint(1, 8))]
        groups = padding_groups(lengths, PASS_COST)
        assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
        assert cost(lengths, groups) == cheapest_by_trying_every_split(lengths)


def test_messages_of_one_length_share_one_pass_and_a_long_one_runs_alone() -> None:
    assert padding_groups([], PASS_COST) == []
    assert padding_groups([14], PASS_COST) == [[0]]
    assert padding_groups([12, 12, 12], PASS_COST) == [[0, 1, 2]]
    # Close lengths share a pass: padding two tokens costs less than a pass of its own.
    assert padding_groups([12, 13, 14], PASS_COST) == [[0, 1, 2]]
    assert padding_groups([10, 10, 120, 10], PASS_COST) == [[0, 1, 3], [2]]
