"""Starting the explorer on a deployment: the index database opened (created on first
use), the index kept up to date by this explorer when no other `pvd index` writes it
(else read as that one writes it), and the web server started. `explore_deployment` is
what `pvd explorer` and `pvd up` call; `explore_system` is the embedded demo's."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvd.explorer.indexed import IndexData, index_data_for_system
from pvd.explorer.server import ExplorerServer, start_explorer
from pvd.explorer.view import Chain
from pvd.index.db import IndexBusy, open_index, writer_lock
from pvd.index.ingest import ChainIndexer, source_from_manifest

log = logging.getLogger(__name__)


def explore_deployment(
    payment_manifest: Path,
    payment_rpc: str,
    business_manifest: Path,
    business_rpc: str,
    db_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    relayer_urls: Sequence[str] = (),
    confirmations: int = 0,
) -> ExplorerServer:
    """The explorer of a deployment on two RPC chains, serving in a background thread.
    Its `close()` stops the server and releases the index's writer lock if it held it."""
    engine = open_index(db_url)
    sources = {
        Chain.PAYMENT: source_from_manifest(
            "payment", payment_manifest, payment_rpc, confirmations
        ),
        Chain.BUSINESS: source_from_manifest(
            "business", business_manifest, business_rpc, confirmations
        ),
    }
    lock = contextlib.ExitStack()
    try:
        lock.enter_context(writer_lock(engine))
        indexers: dict[Chain, ChainIndexer] = {
            chain: ChainIndexer(engine, source) for chain, source in sources.items()
        }
    except IndexBusy:
        log.warning("another pvd index writes this database; the explorer reads it as it goes")
        indexers = {}
    try:
        server = start_explorer(IndexData(engine, indexers), relayer_urls, host, port)
    except BaseException:
        lock.close()
        raise
    server.on_close.append(lock.close)
    return server


def explore_system(
    system: Any, db_url: str, host: str = "127.0.0.1", port: int = 0
) -> ExplorerServer:
    """The explorer of an in-process deployment (pvd.deploy.system.System)."""
    return start_explorer(index_data_for_system(system, db_url), (), host, port)
