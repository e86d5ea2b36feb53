"""What the benchmarks share: the machine, percentiles, the held-out questions, servers."""

from __future__ import annotations

import csv
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.config import DEMO_DIR, Settings, load_settings

HELDOUT_QUESTIONS = DEMO_DIR / "heldout_questions.csv"
# How long the benchmarks' clients keep an idle connection: shorter than the server's own
# keep-alive (uvicorn's, 5 s), so that a client never sends on a connection the server is closing
# at that moment. aiohttp keeps one 15 s: customers starting a conversation every few seconds
# met "Server disconnected" on 2 starts in 306.
CLIENT_KEEP_ALIVE_SECONDS = 3.0


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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[position]


def read_heldout(path: Path = HELDOUT_QUESTIONS) -> list[tuple[str, str]]:
    """The demo's held-out questions: (text, the knowledge-base entry id that answers it)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["entry_id"]) for row in csv.DictReader(handle)]


def settings_or_exit(program: str) -> Settings:
    """The CXAGENT_* settings of this environment; a bad one stops the benchmark in one line."""
    from retrieval.errors import CxagentError

    try:
        return load_settings(os.environ)
    except CxagentError as error:
        sys.exit(f"{program}: error: {error}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(
    url: str, server: subprocess.Popen[bytes] | None = None, timeout: float = 300
) -> None:
    """Wait for ``url``/health to answer 200; a ``server`` process that exits first fails."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before answering")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {url}/health within {timeout:.0f} s")


class Client:
    """A keep-alive HTTP/1.1 client from the standard library: its own cost per request is a
    fraction of a millisecond, so a turn's time is the service's."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=30
        )

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

    def ask(self, text: str) -> dict[str, Any] | None:
        """``text`` in a conversation of its own, as customers ask: the bot's reply, if any."""
        started = self.post("/api/conversations", {})
        path = f"/api/conversations/{started['conversation_id']}/messages"
        reply: dict[str, Any] | None = self.post(path, {"text": text}, started["customer_token"])[
            "reply"
        ]
        return reply

    def close(self) -> None:
        self.connection.close()
