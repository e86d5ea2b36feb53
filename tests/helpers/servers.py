"""An ASGI app served for real by uvicorn on a free local port, in a thread, for as long as a
test needs it: the way browser tests reach the service and action tests reach a company API;
and whether a server started in its own process is up yet."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

START_TIMEOUT = 30.0


@contextmanager
def uvicorn_serving(app: Any, **config: Any) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 and yield its port; stop it afterwards. ``config`` goes to
    ``uvicorn.Config`` as it is."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def up(url: str) -> bool:
    """Whether the server at ``url`` answers /health with 200 (not yet, or no longer: False)."""
    try:
        return httpx.get(url + "/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
