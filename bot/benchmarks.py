"""Benchmarks: scripts that print numbers and the machine they ran on (never tests).

- ``cxagent benchmark retrieval``: the held-out demo questions against the knowledge base.
- ``cxagent benchmark chat``: messages through the HTTP API of a real server process, beside the
  bare encoder's forward time measured in the same run.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.config import DATA_DIR, Settings

HELDOUT_QUESTIONS = DATA_DIR / "heldout_questions.csv"


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[position]


def read_heldout(path: Path = HELDOUT_QUESTIONS) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["entry_id"]) for row in csv.DictReader(handle)]


def retrieval_benchmark(settings: Settings) -> dict[str, Any]:
    """Held-out demo questions against the knowledge base: the served encoder (the NLU bundle's,
    fitted to the knowledge base) with flat and HNSW indexes, and the frozen base encoder."""
    from bot.runtime import served_encoder
    from retrieval.encoder import Encoder, SentenceEncoder
    from retrieval.index import IndexType
    from retrieval.knowledge_base import load_knowledge_base
    from retrieval.metrics import retrieval_metrics
    from retrieval.retriever import Retriever, build_index

    knowledge_base = load_knowledge_base(settings.knowledge_base)
    questions = read_heldout()
    gold = [entry_id for _, entry_id in questions]
    results: dict[str, Any] = {"machine": machine_info(), "queries": len(questions)}
    frozen = SentenceEncoder(settings.base_model)
    runs: list[tuple[str, Encoder, IndexType]] = [("frozen_base", frozen, "flat")]
    if settings.nlu_bundle is not None:
        served = served_encoder(settings)
        runs += [("served", served, "flat"), ("served", served, "hnsw")]
    for label, encoder, index_type in runs:
        retriever = Retriever(
            knowledge_base, encoder, build_index(knowledge_base, encoder, index_type)
        )
        ranked: list[list[str]] = []
        started = time.perf_counter()
        for text, _ in questions:
            ranked.append([hit.entry.id for hit in retriever.search(text, k=5)])
        elapsed = time.perf_counter() - started
        metrics: dict[str, Any] = retrieval_metrics(ranked, gold, ks=(1, 5))
        metrics["ms_per_query"] = 1000 * elapsed / len(questions)
        metrics["encoder"] = encoder.name
        results[f"{label}/{index_type}"] = metrics
        results[f"{label}/{index_type}"]["misses_at_1"] = len(
            [1 for row, truth in zip(ranked, gold, strict=True) if not row or row[0] != truth]
        )
    print(json.dumps(results, indent=2))
    return results


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before answering")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {url}/health within {timeout:.0f} s")


def _bare_forward_ms(encoder: Any, questions: list[str], count: int) -> list[float]:
    for text in questions[:20]:
        encoder.encode([text])
    times = []
    for sent in range(count):
        began = time.perf_counter()
        encoder.encode([questions[sent % len(questions)]])
        times.append(1000 * (time.perf_counter() - began))
    return times


class _Client:
    """A keep-alive HTTP/1.1 client from the standard library: its own cost per request is a
    fraction of a millisecond, so the turn time is the service's."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.connection.request("POST", path, json.dumps(body), headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"POST {path} answered {response.status}: {payload[:200]!r}")
        result: dict[str, Any] = json.loads(payload)
        return result


def chat_benchmark(
    settings: Settings, messages: int = 500, per_conversation: int = 10
) -> dict[str, Any]:
    """Send ``messages`` chat turns, one after another, to a ``cxagent serve`` process on a
    scratch SQLite database, and compare them with the bare encoder's forward pass: the served
    model in this process, one message at a time, back to back, before the server starts and
    again after it stops (the strictest baseline: warm, with the cores to itself)."""
    from bot.runtime import served_encoder

    questions = [text for text, _ in read_heldout()]
    encoder = served_encoder(settings)
    forward_ms = _bare_forward_ms(encoder, questions, messages // 2)
    port = _free_port()
    turn_ms: list[float] = []
    server_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cxagent-bench-") as scratch:
        env = {
            **os.environ,
            "CXAGENT_DATABASE_URL": f"sqlite:///{scratch}/bench.db",
            "CXAGENT_INDEX_DIR": f"{scratch}/index",
            "CXAGENT_LOG_LEVEL": "warning",
            "CXAGENT_BASE_MODEL": settings.base_model,
            "CXAGENT_NLU_BUNDLE": str(settings.nlu_bundle or "none"),
            "CXAGENT_KNOWLEDGE_BASE": str(settings.knowledge_base),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", server)
            client = _Client(port)
            warm_up = 20
            token, path, in_conversation = "", "", per_conversation
            for sent in range(warm_up + messages):
                if in_conversation == per_conversation:
                    customer = {"external_id": f"bench-{sent}", "name": "Sam"}
                    started = client.post("/api/conversations", {"customer": customer})
                    token = started["customer_token"]
                    path = f"/api/conversations/{started['conversation_id']}/messages"
                    in_conversation = 0
                began = time.perf_counter()
                turn = client.post(path, {"text": questions[sent % len(questions)]}, token)
                elapsed = 1000 * (time.perf_counter() - began)
                in_conversation += 1
                if turn["reply"] is None:
                    # The rules handed this conversation to people (a run of complaints, say):
                    # the bot is silent there, so the next message starts a new one.
                    in_conversation = per_conversation
                    continue
                if sent >= warm_up:
                    turn_ms.append(elapsed)
                    server_ms.append(turn["reply"]["latency_ms"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    forward_ms += _bare_forward_ms(encoder, questions, messages - messages // 2)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 50), 2),
            "p99": round(percentile(values, 99), 2),
            "mean": round(statistics.fmean(values), 2),
        }

    ratio = percentile(turn_ms, 50) / percentile(forward_ms, 50)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "messages": messages,
        "answered_turns": len(turn_ms),
        "encoder": encoder.name,
        "chat_turn_ms": summary(turn_ms),
        "server_answer_ms": summary(server_ms),
        "bare_forward_ms": summary(forward_ms),
        "turn_p50_over_forward_p50": round(ratio, 2),
        "within_2x": ratio <= 2.0,
    }
    print(json.dumps(results, indent=2))
    return results


SHARED_DATA = Path("../shared/data")


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """(what ``function`` returned, the seconds it took)."""
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def _frozen_baseline(
    base_model: str, train: Any, test: Any, c: float, balanced: bool = False
) -> tuple[dict[str, float], float]:
    """The frozen encoder's sentence embeddings (mean-pooled, as sentence-transformers reads
    them) with a logistic regression: (accuracy and macro scores, seconds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, recall_score

    from retrieval.encoder import SentenceEncoder

    began = time.perf_counter()
    encoder = SentenceEncoder(base_model)
    regression = LogisticRegression(
        C=c, max_iter=3000, class_weight="balanced" if balanced else None
    )
    regression.fit(encoder.encode(train.texts, show_progress=True), train.labels)
    predicted = list(regression.predict(encoder.encode(test.texts, show_progress=True)))
    seconds = time.perf_counter() - began
    return {
        "accuracy": float(
            sum(p == g for p, g in zip(predicted, test.labels, strict=True)) / len(test)
        ),
        "macro_f1": float(f1_score(test.labels, predicted, average="macro")),
        "macro_recall": float(recall_score(test.labels, predicted, average="macro")),
    }, seconds


def nlu_benchmark(settings: Settings, data_dir: Path = SHARED_DATA) -> dict[str, Any]:
    """Train and evaluate on the public benchmark data beside the project, with held-out splits
    carved here (10%, stratified, seed 13; training then holds out its own 10% for validation),
    next to the frozen-encoder baselines of the same run.

    Two trainings: BANKING77 intents alone (the accuracy and the time of `cxagent train`), and
    BANKING77 with CLINC150 out-of-scope examples and TweetEval sentiment together (the
    out-of-scope decision, its cost in in-scope accuracy, and sentiment)."""
    from finetune.config import TrainingConfig
    from finetune.data import LabelledTexts, load_labelled, stratified_split
    from finetune.evaluation import intent_metrics, sentiment_metrics
    from finetune.reading import OOS_LABEL, SENTIMENT_LABELS
    from finetune.trainer import train

    if not data_dir.is_dir():
        raise FileNotFoundError(f"no benchmark data at {data_dir} (expected ../shared/data)")
    banking = load_labelled(data_dir / "banking77" / "train.csv", "intent")
    banking_train, banking_test = stratified_split(banking, 0.1, 13)
    tweets = load_labelled(
        data_dir / "tweeteval_sentiment" / "train.csv", "sentiment", frozenset(SENTIMENT_LABELS)
    )
    tweets_train, tweets_test = stratified_split(tweets, 0.1, 13)
    oos_train = load_labelled(data_dir / "clinc150_oos" / "oos_train.csv", "intent")
    oos_val = load_labelled(data_dir / "clinc150_oos" / "oos_val.csv", "intent")
    config = TrainingConfig(base_model=settings.base_model)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "splits": {
            "banking77": {"train": len(banking_train), "held_out": len(banking_test)},
            "tweeteval": {"train": len(tweets_train), "held_out": len(tweets_test)},
            "clinc150_oos": {"train": len(oos_train), "held_out": len(oos_val)},
        },
    }

    baseline, seconds = _frozen_baseline(settings.base_model, banking_train, banking_test, 20.0)
    results["banking77_frozen_baseline"] = {**baseline, "seconds": seconds}
    (bundle, _), seconds = _timed(train, config, banking_train)
    metrics = intent_metrics(bundle, banking_test)
    results["banking77_trained"] = {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "seconds": seconds,
    }

    baseline, seconds = _frozen_baseline(
        settings.base_model, tweets_train, tweets_test, 1.0, balanced=True
    )
    results["tweeteval_frozen_baseline"] = {**baseline, "seconds": seconds}
    (bundle, _), seconds = _timed(
        train, config, banking_train, sentiments=tweets_train, out_of_scope=oos_train
    )
    with_oos = LabelledTexts(
        banking_test.texts + oos_val.texts, banking_test.labels + [OOS_LABEL] * len(oos_val)
    )
    oos_metrics = intent_metrics(bundle, with_oos)
    sentiment = sentiment_metrics(bundle, tweets_test)
    results["banking77_oos_tweeteval_trained"] = {
        "in_scope_accuracy": oos_metrics["in_scope_accuracy"],
        "in_scope_accuracy_drop": results["banking77_trained"]["accuracy"]
        - oos_metrics["in_scope_accuracy"],
        "oos_recall": oos_metrics["oos_recall"],
        "oos_precision": oos_metrics["oos_precision"],
        "oos_method": bundle.info.oos_method,
        "sentiment_accuracy": sentiment["accuracy"],
        "sentiment_macro_recall": sentiment["macro_recall"],
        "sentiment_macro_f1": sentiment["macro_f1"],
        "seconds": seconds,
    }
    print(json.dumps(results, indent=2))
    print(_nlu_table(results))
    return results


def _nlu_table(results: dict[str, Any]) -> str:
    """The results as the README's markdown table."""
    base, trained = results["banking77_frozen_baseline"], results["banking77_trained"]
    tweets_base = results["tweeteval_frozen_baseline"]
    joint = results["banking77_oos_tweeteval_trained"]
    rows = [
        "| task (held-out split) | measure | frozen encoder + LR | cxagent train | training time |",
        "| --- | --- | --- | --- | --- |",
        f"| BANKING77 intents | accuracy | {100 * base['accuracy']:.1f} | "
        f"**{100 * trained['accuracy']:.1f}** | {trained['seconds'] / 60:.1f} min |",
        f"| TweetEval sentiment | macro recall | {tweets_base['macro_recall']:.3f} | "
        f"**{joint['sentiment_macro_recall']:.3f}** | {joint['seconds'] / 60:.1f} min (joint) |",
        f"| BANKING77 + CLINC150 out-of-scope | out-of-scope recall | | "
        f"**{joint['oos_recall']:.3f}** (precision {joint['oos_precision']:.3f}) | (joint) |",
        f"| BANKING77 + CLINC150 out-of-scope | in-scope accuracy | | "
        f"{100 * joint['in_scope_accuracy']:.1f} (drop "
        f"{100 * joint['in_scope_accuracy_drop']:.1f} points) | (joint) |",
    ]
    return "\n".join(rows)
