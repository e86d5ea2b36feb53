"""The inference thread's batching: concurrent calls share passes, each gets its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from retrieval.inference import Batcher, run_inference


class TenTimes:
    """A pass that multiplies each item by ten, keeping what each pass was given."""

    def __init__(self) -> None:
        self.passes: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.passes.append(items)
        return [item * 10 for item in items]


def test_a_call_alone_runs_at_once_in_a_pass_of_its_own() -> None:
    many = TenTimes()
    assert Batcher(many)(4) == 40
    assert many.passes == [[4]]


def test_calls_that_wait_while_a_pass_runs_share_the_next_one() -> None:
    passes: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def many(items: list[int]) -> list[int]:
        passes.append(items)
        if len(passes) == 1:
            first_started.set()
            release.wait(5)  # the thread is busy while the others arrive
        return [item * 10 for item in items]

    batcher = Batcher(many, max_batch=4)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(batcher, 0)
        assert first_started.wait(5)
        others = [pool.submit(batcher, item) for item in range(1, 7)]
        time.sleep(0.2)  # the six calls queue behind the busy thread
        release.set()
        assert first.result() == 0
        assert [f.result() for f in others] == [10, 20, 30, 40, 50, 60]
    # Six waiting calls, at most four a pass: two passes after the first, not six.
    assert passes[0] == [0]
    assert sorted(len(batch) for batch in passes[1:]) == [2, 4]
    assert sorted(item for batch in passes[1:] for item in batch) == [1, 2, 3, 4, 5, 6]


def test_a_call_of_several_items_waits_for_one_pass() -> None:
    many = TenTimes()
    # A message's questions are read together, not one pass after another.
    assert Batcher(many).call_many([3, 1, 2]) == [30, 10, 20]
    assert many.passes == [[3, 1, 2]]
    # More than a pass takes: every item is still served, in order.
    assert Batcher(many, max_batch=2).call_many([5, 6, 7]) == [50, 60, 70]
    assert many.passes[1:] == [[5, 6], [7]]


def test_a_failing_pass_fails_each_of_its_calls() -> None:
    def many(items: list[str]) -> list[str]:
        raise RuntimeError("the model is gone")

    batcher = Batcher(many)
    with pytest.raises(RuntimeError, match="the model is gone"):
        batcher("hello")
    # The thread survives: the next call runs.
    assert run_inference(lambda: "still here") == "still here"
