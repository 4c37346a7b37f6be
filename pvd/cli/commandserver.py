"""The command server: trade and money steps without Python's start-up cost.

A `pvd trade ...` or `pvd wallet ...` process spends most of its time importing web3
and eth-account. `pvd up` therefore starts `pvd command-server`, which imports them
once and waits on a Unix socket in the stack's home (`commands.sock`, the user's own:
mode 0600 and the peer's uid checked). A step command whose home has a live server
hands it its arguments, working folder, environment, umask and its three standard
streams (the file descriptors themselves, over the socket); the server forks a child
that runs the command exactly as `pvd.cli.main.main` would, on those streams, and
answers with its exit code. Ctrl-C in the terminal is passed on to that child. It is
the design of Mercurial's `chg` and of nailgun.

Nothing changes for the user but the time: a command whose home has no server (no
`pvd up`, a server stopped by `pvd down`, an old socket) runs in its own process as
before, and so does every command when PVD_NO_COMMAND_SERVER=1. A server whose pvd
code has changed on disk since it started refuses, exits, and the command runs in its
own process (`pvd up` starts a new server). Only the commands in FORWARDED go to the
server; everything else (`relay`, `up`, `deploy`, ...) always runs in its own process.

This module imports only the standard library at module level: the forwarding side
runs before anything else is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import struct
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pvd.paths import PROJECT_ROOT

SOCKET_NAME = "commands.sock"
DISABLE_ENV = "PVD_NO_COMMAND_SERVER"
FORWARDED_MODULES = ("pvd.cli.trade", "pvd.cli.money")  # what the server imports ahead
_INT = struct.Struct("!i")
_REFUSED = 0  # in place of a child's PID: the server will not run this command
_MAX_REQUEST = 1 << 20
_CODE_ROOTS = (PROJECT_ROOT / "pvd", PROJECT_ROOT / "pvd_brownie")


def socket_path(home: Path) -> Path:
    return home / SOCKET_NAME


# ------------------------------------------------------------------ the forwarding side


def forward(argv: Sequence[str], module: str | None) -> int | None:
    """Run `pvd ARGV` on its home's command server; its exit code, or None when there
    is no server to run it (the caller runs the command itself)."""
    if module not in FORWARDED_MODULES or os.environ.get(DISABLE_ENV):
        return None
    path = socket_path(_home_of(argv))
    if not path.exists():
        return None
    relay = _SignalRelay()
    previous = {signum: signal.signal(signum, relay) for signum in _PASSED_ON}
    try:
        return _run_on_server(path, argv, relay)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_on_server(path: Path, argv: Sequence[str], relay: _SignalRelay) -> int | None:
    try:
        request = {
            "argv": list(argv),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": _umask(),
            "python": _python(),
        }
        with connect(path) as conn:
            _send_request(conn, json.dumps(request).encode())
            child = _read_int(conn)
            if child is not None and child != _REFUSED:
                relay.to(child)
                code = _read_int(conn)
                if code is None:
                    print(
                        "pvd: error: the command server's process for this command ended "
                        f"without an exit code; run it again with {DISABLE_ENV}=1",
                        file=sys.stderr,
                    )
                    return 1
                return code
    except OSError:
        pass  # no server answers there (a socket left by one that is gone), or no cwd
    if relay.pending:  # stopped before anything ran: as the signal would have
        return 128 + relay.pending[0]
    return None


_PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _SignalRelay:
    """A signal that would stop the caller goes to the child running its command; one
    that comes before the child is known waits for it."""

    def __init__(self) -> None:
        self.child: int | None = None
        self.pending: list[int] = []

    def __call__(self, signum: int, frame: Any) -> None:
        if self.child is None:
            self.pending.append(signum)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signum)

    def to(self, child: int) -> None:
        self.child = child
        for signum in self.pending:
            self(signum, None)


def _home_of(argv: Sequence[str]) -> Path:
    """The `--home` of a command line, else the default home (as the commands resolve it)."""
    for i, arg in enumerate(argv):
        if arg == "--home" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--home="):
            return Path(arg.removeprefix("--home="))
    return PROJECT_ROOT / ".pvd"


def _python() -> str:
    """Which Python environment runs pvd (a server serves only its own)."""
    return f"{sys.prefix} {sys.version}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ the server


def serve(home: Path) -> int:
    """Import the step commands (and derive the development accounts `--as` names), then
    run each forwarded command in a forked child until SIGTERM. The socket is removed on
    the way out."""
    from importlib import import_module

    for module in ("pvd.cli.main", *FORWARDED_MODULES):
        import_module(module)
    from pvd.chain.connection import dev_accounts
    from pvd.client.roles import DEV_ACCOUNTS

    dev_accounts(DEV_ACCOUNTS)  # the public development keys (`--as`), derived once for all
    path = socket_path(home)
    stamp = _code_stamp()
    with _listening(path) as listener:
        print(f"command server: pid {os.getpid()}, socket {path}", file=sys.stderr, flush=True)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
        while True:
            try:
                conn, _ = listener.accept()
            except InterruptedError:
                continue
            with conn:
                if not _same_user(conn):
                    continue
                try:
                    fds, request = _receive_request(conn)
                except (OSError, ValueError) as exc:
                    if str(exc):  # an empty connection is `pvd up` asking if the socket answers
                        print(f"command server: bad request: {exc}", file=sys.stderr, flush=True)
                    continue
                if request.get("python") != _python() or _code_stamp() != stamp:
                    conn.sendall(_INT.pack(_REFUSED))
                    _close(fds)
                    if _code_stamp() != stamp:
                        print("command server: pvd's code changed; exiting", file=sys.stderr)
                        return 0
                    continue
                child = os.fork()
                if child == 0:
                    listener.close()
                    _run_child(conn, fds, request)  # never returns
                _close(fds)
                words = [w for w in request["argv"] if not w.startswith("-")][:2]
                print(f"command server: pvd {' '.join(words)} in pid {child}", file=sys.stderr)


@contextlib.contextmanager
def _listening(path: Path) -> Iterator[socket.socket]:
    """A Unix socket at `path` only this user may use; removed on exit or SIGTERM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        _at(path, listener.bind)
    finally:
        os.umask(old_mask)
    listener.listen(16)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield listener
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _run_child(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
    """In the forked child: become the command's process, run it, answer its exit code."""
    for signum in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        conn.sendall(_INT.pack(os.getpid()))  # first: what follows may fail, not this
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        _close(fds)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (fd 0, the caller's)
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        os.environ.clear()
        os.environ.update(request["env"])
        from pvd.cli.main import main

        code = main(request["argv"])
    except SystemExit as exc:  # argparse's exits: --help 0, a wrong option 2
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a real bug: its traceback, as the command's own process shows it
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        with contextlib.suppress(OSError):
            conn.sendall(_INT.pack(code))
        os._exit(code)


def _code_stamp() -> tuple[int, int]:
    """How many .py files pvd has and the newest one's modification time."""
    count, newest = 0, 0
    for root in _CODE_ROOTS:
        for folder, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    count += 1
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
    return count, newest


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


# ------------------------------------------------------------------ the wire


def _send_request(conn: socket.socket, payload: bytes) -> None:
    """The payload's length with the three standard streams' descriptors, then the payload."""
    socket.send_fds(conn, [_INT.pack(len(payload))], [0, 1, 2])
    conn.sendall(payload)


def _receive_request(conn: socket.socket) -> tuple[list[int], dict[str, Any]]:
    head, fds, _, _ = socket.recv_fds(conn, _INT.size, 3)
    if not head:
        raise ValueError("")
    if len(head) != _INT.size or len(fds) != 3:
        _close(fds)
        raise ValueError("no length or no standard streams")
    (size,) = _INT.unpack(head)
    if not 0 < size <= _MAX_REQUEST:
        _close(fds)
        raise ValueError(f"request of {size} bytes")
    payload = b""
    while len(payload) < size:
        part = conn.recv(size - len(payload))
        if not part:
            _close(fds)
            raise ValueError("request cut short")
        payload += part
    request: dict[str, Any] = json.loads(payload)
    return fds, request


def _read_int(conn: socket.socket) -> int | None:
    data = b""
    while len(data) < _INT.size:
        part = conn.recv(_INT.size - len(data))
        if not part:
            return None
        data += part
    (value,) = _INT.unpack(data)
    return int(value)


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def connect(path: Path) -> socket.socket:
    """A connection to the server listening at `path` (OSError if none does)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _at(path, conn.connect)
    except OSError:
        conn.close()
        raise
    return conn


def _at(path: Path, action: Any) -> None:
    """`action(path)`, by a path relative to its folder when the absolute one is too long
    for a Unix socket's address (108 bytes on Linux)."""
    if len(os.fsencode(path)) < 100:
        action(str(path))
        return
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        action(path.name)
    finally:
        os.chdir(here)


# ------------------------------------------------------------------ the command


def add_parser(sub: Any) -> None:
    from pvd.cli.context import DEFAULT_HOME, HelpFormatter

    parser = sub.add_parser(
        "command-server",
        help="serve the trade and money steps of a home from one warm process (pvd up runs it)",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--home", type=Path, default=DEFAULT_HOME, help="the home whose steps it serves"
    )
    parser.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    return serve(Path(args.home).resolve())
