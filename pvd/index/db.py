"""Opening the index database: its URL, its schema version, and the one-writer lock.

The default store is SQLite at .pvd/index.db (no set-up); `postgresql://...` (psycopg 3)
puts the same schema on PostgreSQL. The schema is Alembic's (pvd/index/migrations/): a
new database is created at the newest revision; a database at another revision is
refused with a one-line error naming `pvd index migrate` (or a newer pvd).

One indexer writes a database at a time. `writer_lock` takes a lock that dies with its
process: PostgreSQL's session advisory lock, or an flock on a file beside the SQLite file.
Readers (trace, explorer, reconcile) take no lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from pvd.errors import UserError
from pvd.index.schema import SCHEMA_REVISION
from pvd.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

DEFAULT_DB_PATH = PROJECT_ROOT / ".pvd" / "index.db"
DB_ENV = "PVD_INDEX_DB"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # where Alembic records the schema's revision (its default)
_LOCK_KEY = 0x707664_1D  # PostgreSQL advisory lock id of the index writer ("pvd" + index)


def default_url() -> str:
    """$PVD_INDEX_DB, else SQLite at .pvd/index.db."""
    return os.environ.get(DB_ENV) or f"sqlite:///{DEFAULT_DB_PATH}"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def engine_for(url: str) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql://...); UserError if the URL is
    not one of those or the database does not answer."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(
            f"index database URL {url!r} is not a URL: use sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DB"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(
                    f"cannot create {path.parent} for the index ({exc.strerror}): "
                    "pass --db with a writable path"
                ) from None
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10},
        )
    else:
        raise UserError(
            f"index database {redacted(url)}: only sqlite:/// and postgresql:// are supported"
        )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise UserError(
            f"index database {redacted(url)} does not answer ({first}): start it or fix --db"
        ) from None
    return engine


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded (None: no schema yet), read with a plain query: a
    reader such as `pvd trace` does not load Alembic (a quarter of a second) to open the
    index; migrations do."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        heads = [
            str(row[0])
            for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        ]
    if len(heads) > 1:
        raise UserError(
            f"the index records more than one schema revision ({', '.join(sorted(heads))}): "
            "it was not written by pvd; point --db at a pvd index"
        )
    return heads[0] if heads else None


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; (before, after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, SCHEMA_REVISION


def open_index(url: str | None = None, *, create: bool = True) -> Engine:
    """The engine of an index whose schema is this code's. A new (empty) database is
    created when `create`; another revision is a UserError naming the fix."""
    url = url or default_url()
    engine = engine_for(url)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        raise UserError(
            f"index database {redacted(url)} cannot be read ({exc}): fix --db"
        ) from None
    if revision is None:
        if _has_tables(engine):
            raise UserError(
                f"{redacted(url)} holds tables but no pvd index schema: point --db at an "
                "empty database or an index"
            )
        if not create:
            raise UserError(f"no index at {redacted(url)}: run `pvd index` first")
        migrate(engine)
        log.info("created the index schema", extra={"db": redacted(url), "rev": SCHEMA_REVISION})
    elif revision != SCHEMA_REVISION:
        newer = revision > SCHEMA_REVISION
        fix = "upgrade pvd" if newer else f"run `pvd index migrate --db {redacted(url)}`"
        raise UserError(
            f"the index at {redacted(url)} has schema revision {revision}, this pvd uses "
            f"{SCHEMA_REVISION}: {fix}"
        )
    return engine


def _has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())


class IndexBusy(UserError):
    """Another indexer holds the writer lock."""


@contextmanager
def writer_lock(engine: Engine) -> Iterator[None]:
    """Hold the index's one-writer lock for the block; IndexBusy if another process has it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})
            if not got.scalar():
                raise IndexBusy(_busy_message(engine))
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    handle: IO[str] = open(f"{database}.writer.lock", "a")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(_busy_message(engine)) from None
        yield
    finally:
        handle.close()


def _busy_message(engine: Engine) -> str:
    return (
        f"another `pvd index` is writing {redacted(str(engine.url))}: "
        "stop it first (one indexer per database; readers need no indexer lock)"
    )
