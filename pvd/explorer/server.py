"""Running the explorer: `start_explorer` serves the app with uvicorn in a background
thread (for `pvd up`, `pvd demo --explorer` and tests) and returns a handle whose
`close()` stops it; `serve_forever` is the `pvd explorer` command's foreground loop."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import uvicorn

from pvd.errors import UserError
from pvd.explorer.app import create_app
from pvd.explorer.view import ExplorerData

log = logging.getLogger(__name__)


@dataclass
class ExplorerServer:
    """A running explorer; `url` is where a browser finds it."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    on_close: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        while self.on_close:
            self.on_close.pop()()


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP; with proto 0 every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"the explorer cannot listen on {host}:{port} ({exc.strerror}): "
            "pick another --port, or 0 for any free port"
        ) from None
    sock.listen(128)
    return sock


def _config(
    data: ExplorerData, relayer_urls: Sequence[str], host: str, poll_seconds: float
) -> uvicorn.Config:
    app = create_app(data, relayer_urls, poll_seconds=poll_seconds)
    return uvicorn.Config(
        app,
        host=host,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def start_explorer(
    data: ExplorerData,
    relayer_urls: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    poll_seconds: float = 0.25,
    ready_timeout: float = 30.0,
) -> ExplorerServer:
    """Serve the explorer over `data` in a daemon thread; port 0 picks a free port.
    Returns once it answers (its first read of the chains done)."""
    sock = _bind(host, port)
    bound = int(sock.getsockname()[1])
    server = uvicorn.Server(_config(data, relayer_urls, host, poll_seconds))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="pvd-explorer", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise UserError(f"the explorer did not start on {host}:{bound}; see its log")
        time.sleep(0.02)
    log.info("explorer serving", extra={"url": f"http://{host}:{bound}"})
    return ExplorerServer(server, thread, host, bound)


def serve_forever(
    data: ExplorerData,
    relayer_urls: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 8700,
    poll_seconds: float = 0.25,
) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM (uvicorn handles the signals)."""
    sock = _bind(host, port)
    uvicorn.Server(_config(data, relayer_urls, host, poll_seconds)).run(sockets=[sock])
