"""Free TCP ports on the loopback interface: never assume a port is free.

A port handed out is picked outside the kernel's ephemeral range: a port from that range
(what binding port 0 returns) can be taken as the local end of any outgoing connection
in the moment between the pick and the server's bind, and the server then fails with
"address already in use".
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000  # picks start here: below are well-known services' habits
ATTEMPTS = 100


def free_port() -> int:
    """A port free now on 127.0.0.1 that no outgoing connection will take (bind it soon)."""
    highest = _ephemeral_low() - 1
    for _ in range(ATTEMPTS if highest > LOWEST_PORT else 0):
        port = random.randint(LOWEST_PORT, highest)
        if port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the kernel's pick
        sock.bind(("127.0.0.1", 0))
        picked: int = sock.getsockname()[1]
        return picked


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux's default if unknown)."""
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` can be bound on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers that will bind it do (http.server, prometheus_client): a port
        # whose last listener left only TIME_WAIT connections behind (a relayer killed
        # and restarted) is free; one something listens on is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


if __name__ == "__main__":
    print(free_port())
