"""How a live socket shows its token: in the ``Sec-WebSocket-Protocol`` header, never in the
URL, where access logs and proxies would keep it.

A browser cannot set headers on a WebSocket, but it can offer subprotocols:
``new WebSocket(url, ["cxagent", "token." + token])``. The service picks ``cxagent`` (a browser
drops a socket whose server picks none of those it offered) and reads the token from the other.
Tokens are URL-safe base64, which a subprotocol name may hold. ``?token=`` in the URL still
works for older clients; the access log masks it (bot/cli/serve.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from bot.live.events import EventHub, Listener

SUBPROTOCOL = "cxagent"
# 4000 + 401, as a REST call would answer an ended session.
SESSION_ENDED_CODE = 4401
TOKEN_PREFIX = "token."
# How long a session-ended notice waits for the socket's acceptance (which follows the token
# check at once) before it gives up on a socket that was never opened.
ACCEPT_WAIT_SECONDS = 5.0


def socket_token(websocket: WebSocket) -> str:
    """The token the client offered as a subprotocol, else the deprecated ``?token=``; empty
    when there is none (which no check accepts)."""
    for offered in websocket.scope.get("subprotocols", ()):
        if offered.startswith(TOKEN_PREFIX):
            token: str = offered.removeprefix(TOKEN_PREFIX)
            return token
    return websocket.query_params.get("token", "")


def chosen_subprotocol(websocket: WebSocket) -> str | None:
    """What the acceptance must name: ``cxagent`` if the client offered it."""
    return SUBPROTOCOL if SUBPROTOCOL in websocket.scope.get("subprotocols", ()) else None


@asynccontextmanager
async def closed_on_event(
    websocket: WebSocket, hub: EventHub, topic: str, reason: str
) -> AsyncIterator[None]:
    """While inside, the first event on ``topic`` closes the socket with 4401 and ``reason``.
    Enter before checking the token, so that an event sent meanwhile is not missed."""
    async with hub.subscribe(topic) as listener:
        watcher = asyncio.create_task(_close_on_event(websocket, listener, reason))
        try:
            yield
        finally:
            watcher.cancel()


async def _close_on_event(websocket: WebSocket, listener: Listener, reason: str) -> None:
    if await listener.next() is None:
        return  # dropped by the hub: the socket's own relay closes it, and the client retries
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACCEPT_WAIT_SECONDS
    while websocket.application_state is WebSocketState.CONNECTING and loop.time() < deadline:
        await asyncio.sleep(0.01)
    if websocket.application_state is WebSocketState.CONNECTED:
        with suppress(RuntimeError):  # the client went meanwhile
            await websocket.close(SESSION_ENDED_CODE, reason)
