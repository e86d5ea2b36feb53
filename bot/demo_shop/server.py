"""Run the demo shop's API beside the bot: uvicorn on a daemon thread of the calling process.

The bot reaches it over HTTP at `DemoShop.url`, the same path it takes to a real company's API.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from bot.demo_shop.app import create_shop_app
from bot.demo_shop.store import Clock

logger = logging.getLogger(__name__)

# Long enough for a slow, busy machine; a shop that has not answered by then will not.
START_TIMEOUT = 10.0


class ShopStartError(RuntimeError):
    """The shop could not start; the message says why and what to change."""


@dataclass
class DemoShop:
    """A running shop: its base URL (no trailing slash), and `stop()`."""

    url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("the demo shop at %s did not stop within %.0f s", self.url, timeout)


def start_demo_shop(
    host: str,
    port: int,
    data_file: Path,
    db_path: Path,
    api_token: str,
    *,
    clock: Clock | None = None,
) -> DemoShop:
    """Start the shop and return once it answers. Port 0 takes any free port (see `.url`).

    Raises `ShopStartError` if the port is taken, `ShopDataError` if the data file is wrong.
    """
    app = create_shop_app(data_file, db_path, api_token, clock=clock)
    # Bound here rather than by uvicorn, so a taken port is an error in the caller's thread,
    # not a log line and a dead thread.
    listener = _listen(host, port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # The shop speaks plain HTTP only; the websocket stack is not needed here.
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="demo-shop", daemon=True
    )
    thread.start()
    bound_host, bound_port = listener.getsockname()[:2]
    shop = DemoShop(f"http://{_url_host(bound_host)}:{bound_port}", server, thread)
    _await_start(shop, server, thread, listener)
    logger.info("demo shop API listening on %s", shop.url)
    return shop


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may reuse a port whose old connections linger in TIME_WAIT.
    # A port another program listens on is still refused.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise ShopStartError(
                f"the demo shop cannot listen on {host}:{port}: the port is taken by another "
                "program; stop it or choose another port for the shop"
            ) from error
        raise ShopStartError(f"the demo shop cannot listen on {host}:{port}: {error}") from error
    return listener


def _await_start(
    shop: DemoShop, server: uvicorn.Server, thread: threading.Thread, listener: socket.socket
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            shop.stop()
            listener.close()
            raise ShopStartError(f"the demo shop at {shop.url} did not start (see the log)")
        time.sleep(0.01)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
