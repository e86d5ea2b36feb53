"""What the live WebSockets share: a socket two tasks may send on, and the relay of the event
hub's events to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocketDisconnect, status
from starlette.websockets import WebSocket, WebSocketState

from bot.api.errors import status_of
from bot.api.socket_auth import chosen_subprotocol
from bot.errors import ServiceError
from bot.live.events import EventHub, Listener

logger = logging.getLogger(__name__)

# WebSocket close codes: 4000 + the HTTP status that a REST call would have answered.
WS_CLOSE_OFFSET = 4000
BINARY_FRAME = "binary frames are not read here: send JSON as a text frame"
FRAME_FAILED = "the server failed on this frame; please retry"


class LockedSocket:
    """A WebSocket that two tasks may send on: the one answering the client's frames and the
    one relaying events. Frames must not interleave mid-send."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send_json(self, data: Any) -> None:
        async with self._lock:
            await self.websocket.send_json(data)

    async def close(self, code: int) -> None:
        async with self._lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(code)


async def serve_live(
    websocket: WebSocket,
    hub: EventHub,
    topic: str,
    on_frame: Callable[[LockedSocket, str], Awaitable[None]] | None = None,
) -> None:
    """Accept an authorised socket, relay the topic's events to it, and hand each text frame
    the client sends to ``on_frame``, until the client goes. A binary frame, or a frame
    ``on_frame`` fails on, gets an ``error`` frame and the socket stays open."""
    await websocket.accept(chosen_subprotocol(websocket))
    socket = LockedSocket(websocket)
    async with hub.subscribe(topic) as listener:
        relay = asyncio.create_task(relay_events(socket, listener))
        try:
            while (frame := await websocket.receive())["type"] != "websocket.disconnect":
                text = frame.get("text")
                if text is None:
                    await socket.send_json({"type": "error", "detail": BINARY_FRAME})
                elif on_frame is not None:
                    await _answer(socket, on_frame, text)
        except WebSocketDisconnect:
            return
        finally:
            relay.cancel()


async def _answer(
    socket: LockedSocket, on_frame: Callable[[LockedSocket, str], Awaitable[None]], text: str
) -> None:
    try:
        await on_frame(socket, text)
    except WebSocketDisconnect:
        raise
    except Exception:
        # What a REST call would answer with a 500: the client hears that this frame failed,
        # and its other frames and the events still go through.
        logger.exception("live socket: a frame failed")
        await socket.send_json({"type": "error", "detail": FRAME_FAILED})


async def refuse(websocket: WebSocket, error: ServiceError) -> None:
    """Close with 4000 + the HTTP status. Accepted first: a socket closed during the handshake
    reaches a browser as a bare 1006, without the code or the reason."""
    await websocket.accept(chosen_subprotocol(websocket))
    await websocket.close(code=WS_CLOSE_OFFSET + status_of(error), reason=str(error))


async def relay_events(socket: LockedSocket, listener: Listener) -> None:
    """Pass a topic's events on to the socket until the hub drops the listener; the client then
    reconnects and catches up from the database."""
    try:
        while (event := await listener.next()) is not None:
            await socket.send_json(event)
        await socket.close(WS_CLOSE_OFFSET + status.HTTP_503_SERVICE_UNAVAILABLE)
    except (WebSocketDisconnect, RuntimeError):
        return  # the client went away; the receiving side ends the socket
