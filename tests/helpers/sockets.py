"""Reading a test client's WebSocket with a deadline.

Starlette's TestClient WebSocket has no timeout: ``receive_json()`` waits forever when nothing
comes, and a test that expects a frame that never arrives hangs the run. Here the read happens in
a thread and the test waits for it at most ``seconds``, then fails saying what it waited for.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType
from typing import Any

from starlette.testclient import WebSocketTestSession

RECEIVE_SECONDS = 10.0
"""How long a test waits for a frame the service sends at once; far above the milliseconds it
takes, so only a frame that never comes reaches it."""


def within(socket: WebSocketTestSession, seconds: float = RECEIVE_SECONDS) -> Any:
    """The next JSON frame, or a test failure instead of a hang when none comes in ``seconds``.
    What the read raises (``WebSocketDisconnect`` when the service closes) is raised here."""
    frames: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            frames.put(socket.receive_json())
        except BaseException as error:  # handed to the test below, never left unhandled
            frames.put(error)

    threading.Thread(target=read, daemon=True, name="websocket-read").start()
    try:
        frame = frames.get(timeout=seconds)
    except queue.Empty:
        raise AssertionError(f"no frame within {seconds} s") from None
    if isinstance(frame, BaseException):
        raise frame
    return frame


def next_message(socket: WebSocketTestSession) -> Any:
    """The next ``message`` frame. Live events are published after the request that caused
    them has answered, so a socket opened just after a change may still get its ``status``
    frame first: those are passed over."""
    while True:
        frame = within(socket)
        if frame.get("type") == "message":
            return frame
        assert frame.get("type") == "status", frame


class TimedSocket:
    """A test client's WebSocket session whose ``receive_json()`` has a deadline (see
    ``within``); otherwise the session itself: a context manager that connects and closes."""

    def __init__(self, session: WebSocketTestSession, seconds: float = RECEIVE_SECONDS) -> None:
        self.session = session
        self.seconds = seconds

    def __enter__(self) -> TimedSocket:
        self.session.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.session.__exit__(kind, error, traceback)

    def receive_json(self) -> Any:
        return within(self.session, self.seconds)

    def send_json(self, data: Any) -> None:
        self.session.send_json(data)

    def send_text(self, data: str) -> None:
        self.session.send_text(data)

    def close(self, code: int = 1000) -> None:
        self.session.close(code)
