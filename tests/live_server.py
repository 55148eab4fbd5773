"""Any ASGI app served by a real uvicorn on 127.0.0.1, from a background thread.

Browser and CLI tests talk to the service over real HTTP, as users do; the
server shares the test database's engine, so tests read and write the same rows.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LiveServer:
    """`server = LiveServer()`; build the app with `server.url`; `server.start(app)`.

    The port is bound at construction, so the app's settings can name its own URL.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        # Bound before the thread starts so the port is known up front; TCP
        # named explicitly so asyncio sets TCP_NODELAY (no delayed-ACK stalls).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, app: Any, timeout: float = 20.0) -> None:
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()
