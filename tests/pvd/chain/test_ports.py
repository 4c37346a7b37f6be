"""Free ports: bindable when handed out, and outside the kernel's ephemeral range, so an
outgoing connection cannot take one before its server binds it."""

from __future__ import annotations

import socket

import pytest

from pvd.chain import ports


def test_a_free_port_binds_and_is_not_ephemeral() -> None:
    low = ports._ephemeral_low()
    picked = [ports.free_port() for _ in range(20)]

    assert all(ports.LOWEST_PORT <= port < low for port in picked)
    for port in picked:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_something_listens_on_is_not_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports.free_port()))
        server.listen()
        assert not ports.port_free(server.getsockname()[1])


def test_without_a_range_below_the_ephemeral_one_the_kernel_picks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ports, "_ephemeral_low", lambda: ports.LOWEST_PORT)
    port = ports.free_port()

    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
