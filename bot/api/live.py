"""What the live WebSockets share: a socket two tasks may send on, and the relay of the event
hub's events to it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocketDisconnect, status
from starlette.websockets import WebSocket, WebSocketState

from bot.api.errors import status_of
from bot.errors import ServiceError
from bot.live.events import EventHub, Listener

# WebSocket close codes: 4000 + the HTTP status that a REST call would have answered.
WS_CLOSE_OFFSET = 4000


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
    """Accept an authorised socket, relay the topic's events to it, and hand each frame the
    client sends to ``on_frame``, until the client goes."""
    await websocket.accept()
    socket = LockedSocket(websocket)
    async with hub.subscribe(topic) as listener:
        relay = asyncio.create_task(relay_events(socket, listener))
        try:
            while True:
                frame = await websocket.receive_text()
                if on_frame is not None:
                    await on_frame(socket, frame)
        except WebSocketDisconnect:
            return
        finally:
            relay.cancel()


async def refuse(websocket: WebSocket, error: ServiceError) -> None:
    """Close with 4000 + the HTTP status. Accepted first: a socket closed during the handshake
    reaches a browser as a bare 1006, without the code or the reason."""
    await websocket.accept()
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
