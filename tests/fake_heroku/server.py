"""Serve the fake over real HTTP on 127.0.0.1, from a background thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from tests.fake_heroku.app import create_app
from tests.fake_heroku.state import FakeState


class FakeHerokuServer:
    """`with FakeHerokuServer() as fake:` then point both Heroku URLs at `fake.url`."""

    def __init__(self, state: FakeState | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.state = state or FakeState()
        # Binding here, before the thread starts, makes a free port known up front.
        # proto must say TCP: asyncio sets TCP_NODELAY only then, and without it
        # every answer waits out the client's delayed ACK (~40 ms).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Heroku server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.state.release.set()  # let go of requests held by hang_next
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> FakeHerokuServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
