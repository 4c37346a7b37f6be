"""A throw-away PostgreSQL cluster for tests: initdb in a temporary folder, pg_ctl start on
a free port (a Unix socket in the same folder too), always stopped and removed.

initdb refuses to run as root; as root the cluster runs as the `postgres` user that
Debian's package creates (`make postgres-deps` installs it)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pvd.chain.ports import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin(name: str) -> str:
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `make postgres-deps` (Debian's postgresql)")
    return found


def _as_cluster_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running cluster; yields the URL of its database `pvd` (user pvd, trust auth)."""
    folder = Path(tempfile.mkdtemp(prefix="pvd-pg-"))
    data = folder / "data"
    port = free_port()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    run = lambda *args: subprocess.run(  # noqa: E731
        _as_cluster_user(list(args)), check=True, capture_output=True, text=True
    )
    started = False
    try:
        run(pg_bin("initdb"), "-D", str(data), "-U", "pvd", "-A", "trust", "-E", "UTF8")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "start",
        )
        started = True
        run(pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "pvd", "pvd")
        yield f"postgresql://pvd@127.0.0.1:{port}/pvd"
    finally:
        if started:
            subprocess.run(
                _as_cluster_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(cluster_url: str, name: str) -> Iterator[str]:
    """A new empty database in the cluster, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        cluster_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield cluster_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
