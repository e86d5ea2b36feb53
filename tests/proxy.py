"""A TCP proxy that a test can cut, to drop live connections the way a flaky network does:
between the browser and the service (Chromium's offline emulation leaves open WebSockets alone),
or between the service and Redis."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to the target. ``cut()`` closes every open connection and
    refuses new ones until ``restore()``; ``mute_replies()`` keeps connections open but throws
    away what the service sends (the client's frames still arrive), like a link that fails
    after the request left; ``hang()`` accepts connections and passes nothing either way until
    ``restore()``, like a server that stopped answering (what was held then goes through)."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_port = target_port
        self.target_host = host
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down = False
        self._muted = False
        self._flowing = threading.Event()
        self._flowing.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._down = True
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._down = False
            self._muted = False
        self._flowing.set()

    def mute_replies(self) -> None:
        with self._lock:
            self._muted = True

    def hang(self) -> None:
        self._flowing.clear()

    def close(self) -> None:
        self._flowing.set()
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._down:
                    client.close()
                    continue
            try:
                upstream = socket.create_connection((self.target_host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_service: bool) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                if from_service and self._muted:
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
