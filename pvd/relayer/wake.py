"""What wakes a relayer's route workers: new blocks, pushed signatures, or a timer.

Owns the wake-up half of the relayer loop (docs/adr/0009-relayer-loop.md):

- Wake: a level-triggered signal a worker sleeps on. `notify()` from any thread; a
  worker's `wait(timeout)` returns at once if anything was notified since its last wait,
  so no notification is lost between a tick and the next sleep.
- HeadSubscription: one chain's `eth_subscribe("newHeads")` over WebSocket (the
  `websockets` package that web3.py depends on; its synchronous client, in a daemon
  thread). Every new head notifies the chain's listeners. A dropped or refused
  connection is retried with a doubling backoff (0.1 s up to 5 s); while it is down
  `live` is False and the workers poll at the chain's poll_interval. `latest()` is the
  newest head number announced (the route's scan uses it instead of asking the node for
  eth_blockNumber; None while down). After each
  (re)connection the listeners are notified once: the workers' next scan reads every
  block from their checkpoint to the head, so blocks made while the subscription was
  down are read back, not missed.

Nothing here reads chain state: a head only says "look now"; the scan decides what is
new from the store's checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from pvd.relayer.log import relay_logger

_log = relay_logger("pvd.relayer.wake")

FIRST_BACKOFF = 0.1  # seconds before the first reconnection attempt
MAX_BACKOFF = 5.0  # seconds, the longest wait between attempts
OPEN_TIMEOUT = 5.0  # seconds to open a connection and get the subscription id
RECV_TIMEOUT = 0.5  # seconds a read blocks before the stop flag is checked again
MAX_FRAME = 1 << 20  # a newHeads notification is ~1 kB; refuse anything far larger


class Wake:
    """A signal for one worker: `notify()` marks it, `wait()` consumes the mark."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._marked = False

    def notify(self) -> None:
        with self._condition:
            self._marked = True
            self._condition.notify_all()

    def wait(self, timeout: float | None) -> bool:
        """Until notified (True, the mark is consumed) or `timeout` seconds (False)."""
        with self._condition:
            if not self._marked:
                self._condition.wait(timeout)
            marked, self._marked = self._marked, False
            return marked


class HeadSubscription:
    """newHeads of one chain over WebSocket, in a daemon thread, reconnecting forever.

    `listeners` are called (from the subscription thread; they must be quick, e.g.
    Wake.notify) on every new head and after every (re)connection.
    """

    def __init__(
        self,
        chain: str,
        urls: Sequence[str],
        listeners: Sequence[Callable[[], None]] = (),
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        if not urls:
            raise ValueError("a subscription needs at least one ws:// or wss:// URL")
        self.chain = chain
        self.urls = tuple(urls)
        self._listeners = list(listeners)
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._live = threading.Event()
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self.heads = 0  # new heads received since start
        self._latest: int | None = None  # the number of the last head announced
        self.connections = 0  # successful subscriptions since start (1 + reconnections)
        self._thread = threading.Thread(target=self._run, name=f"pvd-heads:{chain}", daemon=True)

    def start(self) -> HeadSubscription:
        self._thread.start()
        return self

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    @property
    def live(self) -> bool:
        """True while subscribed: heads arrive as they are made."""
        return self._live.is_set()

    def latest(self) -> int | None:
        """The number of the newest head announced on the live subscription; None while
        it is down or before its first head (then the node must be asked)."""
        latest = self._latest
        return latest if self._live.is_set() else None

    def wait_live(self, timeout: float) -> bool:
        return self._live.wait(timeout)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def _run(self) -> None:
        backoff = self._first_backoff
        attempt = 0
        while not self._stop.is_set():
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                with connect(url, open_timeout=OPEN_TIMEOUT, max_size=MAX_FRAME) as ws:
                    with self._lock:
                        self._connection = ws
                    self._subscribe(ws)
                    backoff = self._first_backoff
                    self._live.set()
                    self.connections += 1
                    _log.info("subscribed to new heads", extra={"chain": self.chain})
                    self._notify()  # read back whatever was made while not subscribed
                    self._read(ws)
            except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
                if self._stop.is_set():
                    break
                was_live = self._live.is_set()
                self._live.clear()
                (_log.warning if was_live else _log.debug)(
                    "new-heads subscription down (%s: %s); polling, reconnecting in %.1fs",
                    type(exc).__name__,
                    " ".join(str(exc).split())[:200],
                    backoff,
                    extra={"chain": self.chain},
                )
                self._notify()  # the workers fall back to polling now
            finally:
                self._live.clear()
                self._latest = None
                with self._lock:
                    self._connection = None
            if self._stop.wait(backoff):
                break
            backoff = min(self._max_backoff, backoff * 2)

    def _subscribe(self, ws: Connection) -> None:
        ws.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            )
        )
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer to eth_subscribe")
            answer = json.loads(ws.recv(timeout=left))
            if answer.get("id") == 1:
                if "error" in answer or not isinstance(answer.get("result"), str):
                    raise ValueError(f"eth_subscribe refused: {answer.get('error')}")
                return

    def _read(self, ws: Connection) -> None:
        while not self._stop.is_set():
            try:
                frame = ws.recv(timeout=RECV_TIMEOUT)
            except TimeoutError:
                continue
            try:
                message = json.loads(frame)
            except (ValueError, TypeError):
                continue
            if isinstance(message, dict) and message.get("method") == "eth_subscription":
                self.heads += 1
                self._latest = _head_number(message, self._latest)
                self._notify()

    def close(self) -> None:
        """Stop the thread and close the connection (idempotent)."""
        self._stop.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            with contextlib.suppress(OSError, WebSocketException):
                connection.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _head_number(message: dict[str, object], previous: int | None) -> int | None:
    """The block number a newHeads notification announces (after a reorg it may be lower
    than the one before); `previous` if it has none."""
    params = message.get("params")
    result = params.get("result") if isinstance(params, dict) else None
    number = result.get("number") if isinstance(result, dict) else None
    try:
        value = int(number, 16) if isinstance(number, str) else None
    except ValueError:
        value = None
    return previous if value is None else value
