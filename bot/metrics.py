"""How the service is coping, for Prometheus: chat turns (their time, how many run, how many
were refused) and the model's forward passes (their time and how many messages each took).

`/metrics` serves these beside what the database says (bot.analytics.alerts). Under
`cxagent serve --workers N` every worker counts for itself and any of them answers a scrape, so
the workers keep their counts in files of a folder the supervisor gives them
(``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's multiprocess mode) and a scrape adds them up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# prometheus_client's own setting: where each process of a multi-process server keeps its
# counts. Read when prometheus_client is first imported, so set before the workers start.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# From a lone turn on a fast machine (a few ms) to a turn refused for taking too long (seconds).
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PASS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)

TURN_SECONDS = Histogram(
    "cxagent_turn_seconds",
    "Time a chat turn held its slot, from arrival to answer (waits for the company's API left out)",
    buckets=TURN_BUCKETS,
)
TURNS_REFUSED = Counter(
    "cxagent_turns_refused",
    "Chat turns refused with 503 and Retry-After: the process had its bound's worth running",
)
# Summed over the live workers: the turns running now, and how many they would take at once.
TURNS_RUNNING = Gauge(
    "cxagent_turns_running", "Chat turns running now", multiprocess_mode="livesum"
)
TURN_BOUND = Gauge(
    "cxagent_turn_bound",
    "How many chat turns the processes take at once now (each process's bound follows its speed)",
    multiprocess_mode="livesum",
)
PASS_SECONDS = Histogram(
    "cxagent_forward_pass_seconds",
    "Time of one forward pass of the model, with the index search, for all the messages it took",
    buckets=PASS_BUCKETS,
)
PASS_MESSAGES = Histogram(
    "cxagent_forward_pass_messages",
    "Messages (questions) one forward pass took together",
    buckets=BATCH_BUCKETS,
)


def record_pass(messages: int, seconds: float) -> None:
    """One forward pass of ``messages`` that took ``seconds``."""
    PASS_SECONDS.observe(seconds)
    PASS_MESSAGES.observe(messages)


def serving_metrics() -> str:
    """The metrics above in Prometheus' text format: this process's, or, under several
    workers, every worker's added up."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated
        return generate_latest(registry).decode()
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY).decode()
