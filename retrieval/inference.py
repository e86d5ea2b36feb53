"""One thread per process for everything that runs the model or searches the index.

PyTorch's OpenMP pool belongs to the thread that calls into it, and FAISS brings an OpenMP
runtime of its own. When a web server answers on whichever worker thread is free, several pools
build up and compete for the cores: on 2 cores a forward pass went from 8.6 ms to 15 ms, a
whole chat turn from 17.6 ms to 27 ms. Running all of it on one thread keeps one pool each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

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
