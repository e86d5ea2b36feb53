"""One thread per process for everything that runs the model or searches the index.

PyTorch's OpenMP pool belongs to the thread that calls into it, and FAISS brings an OpenMP
runtime of its own. When a web server answers on whichever worker thread is free, several pools
build up and compete for the cores: on 2 cores a forward pass went from 8.6 ms to 15 ms, a
whole chat turn from 17.6 ms to 27 ms. Running all of it on one thread keeps one pool each.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_THREAD_NAME = "cxagent-inference"


def _prepare_thread() -> None:
    import faiss

    # Queries arrive one at a time; a single-query search over a knowledge base is sub-millisecond
    # on one thread, and a second FAISS pool would only compete with PyTorch's.
    faiss.omp_set_num_threads(1)


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=1, thread_name_prefix=_THREAD_NAME, initializer=_prepare_thread
    )


def run_inference(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``function`` on the inference thread and wait for it (directly, if already there)."""
    if threading.current_thread().name.startswith(_THREAD_NAME):
        return function(*args, **kwargs)
    return _executor().submit(function, *args, **kwargs).result()


class Batcher(Generic[T, R]):
    """Calls from many threads served together on the inference thread: when the thread comes
    free, one pass of ``many`` takes every call that is waiting (at most ``max_batch``).

    Nothing waits on purpose: a call that finds the thread idle runs at once, alone, so one
    customer is not slowed; calls that arrive while a pass runs share the next one. Fifty
    customers writing at once share forward passes instead of queueing one by one.
    """

    def __init__(
        self,
        many: Callable[[list[T]], list[R]],
        max_batch: int = 32,
        on_pass: Callable[[int, float], None] | None = None,
    ):
        """``on_pass`` hears of each pass: how many items it took and how many seconds."""
        self._many = many
        self._max_batch = max_batch
        self._on_pass = on_pass
        self._waiting: deque[tuple[T, Future[R]]] = deque()
        self._lock = threading.Lock()

    def __call__(self, item: T) -> R:
        return self.call_many([item])[0]

    def call_many(self, items: list[T]) -> list[R]:
        """``items`` served together, in order: in one pass when they fit (a message's several
        questions wait for the thread once, not once each)."""
        if threading.current_thread().name.startswith(_THREAD_NAME):
            return self._timed(items)
        results: list[Future[R]] = [Future() for _ in items]
        with self._lock:
            self._waiting.extend(zip(items, results, strict=True))
        # One drain per item, so every item is taken by some pass; a drain that finds the
        # queue empty (an earlier pass took its item) returns at once.
        for _ in items:
            _executor().submit(self._drain)
        return [result.result() for result in results]

    def _drain(self) -> None:
        with self._lock:
            taken = min(self._max_batch, len(self._waiting))
            batch = [self._waiting.popleft() for _ in range(taken)]
        if not batch:
            return
        try:
            results = self._timed([item for item, _ in batch])
        except BaseException as error:  # every caller gets the error, as alone it would
            for _, waiting in batch:
                waiting.set_exception(error)
            return
        for (_, waiting), result in zip(batch, results, strict=True):
            waiting.set_result(result)

    def _timed(self, items: list[T]) -> list[R]:
        began = time.perf_counter()
        results = self._many(items)
        if self._on_pass is not None:
            self._on_pass(len(items), time.perf_counter() - began)
        return results
