"""A relayer: both routes of one attester (or, in the embedded demo, of several attesters
in one process), one store, one metrics registry, and the loop that ticks them.

`Relayer.run` gives each direction its own worker thread, so a long deliver step on one
never delays the other (docs/adr/0009-relayer-loop.md). A worker ticks its route, then
sleeps on its Wake (pvd.relayer.wake) until something may have changed: a new head on
either of its chains (WebSocket subscription), a peer's pushed signature, or a timer.
The timer is the chain's poll_interval while the route has work waiting or a chain is
not subscribed (HTTP only, or its subscription is down); an idle route on subscribed
chains sleeps until woken, checking at most every IDLE_CHECK_SECONDS.

`relayer_from_config` builds the `pvd relay` process: RPC chains checked against their
manifests, keys from the environment or a keystore, instance locks, the signature server
for the other attesters and the metrics endpoint. `Relayer` itself is also built
directly by the demo, on embedded chains, with all attesters in this process.
"""

from __future__ import annotations

import cProfile
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import requests
from web3.exceptions import ProviderConnectionError, Web3RPCError

from pvd.chain.connection import Chain, rpc_chain
from pvd.chain.rpc import block_unavailable
from pvd.deploy.manifest import read_manifest
from pvd.errors import RecoverableError, UnrecoverableError, UserError
from pvd.relayer.config import ChainConfig, ChainName, Peer, RelayConfig, Route
from pvd.relayer.ends import (
    BUSINESS_APPS,
    PAYMENT_APPS,
    ChainEnd,
    check_identity,
    end_from_manifest,
)
from pvd.relayer.keys import Signer, load_keys
from pvd.relayer.lock import RelayerLocks
from pvd.relayer.log import relay_logger
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.quorum import PushedSignatures, QuorumClient, serve_signatures
from pvd.relayer.retry import RetryPolicy
from pvd.relayer.route import RelayRoute, RouteSettings, StoreVerifier
from pvd.relayer.sender import Sender, SenderSettings
from pvd.relayer.store import Store
from pvd.relayer.wake import HeadSubscription, Wake

_log = relay_logger("pvd.relayer.service")
IDENTITY_CHECK_SECONDS = 60.0  # how often a running relayer re-checks each RPC's chain
IDLE_CHECK_SECONDS = 10.0  # longest sleep of an idle route whose chains are subscribed
METRICS_REFRESH_SECONDS = 1.0  # the store-derived gauges are refreshed at most this often
PROFILE_ENV = "PVD_PROFILE_DIR"  # a folder: each route worker writes its cProfile stats there


@dataclass(frozen=True)
class RouteOptions:
    """Per-source-chain reading options and the shared retry policy."""

    payment: RouteSettings
    business: RouteSettings
    retry: RetryPolicy


class Relayer:
    """Both directions of one relayer. `tick` runs each route once."""

    def __init__(
        self,
        payment: ChainEnd,
        business: ChainEnd,
        store: Store,
        attesters: Sequence[Signer],
        gas: dict[str, Signer],
        options: RouteOptions,
        *,
        metrics: RelayerMetrics | None = None,
        peers: Sequence[Peer] = (),
        sender_settings: SenderSettings | None = None,
        rng: random.Random | None = None,
        pushed: PushedSignatures | None = None,
        heads: Mapping[str, HeadSubscription] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or RelayerMetrics()
        self.routes: list[RelayRoute] = []
        self._clients: list[QuorumClient] = []
        self.heads = dict(heads or {})
        self.wakes: dict[Route, Wake] = {}
        rng = rng or random.Random()
        ends = {"payment": payment, "business": business}
        for route in (Route.PAYMENT_TO_BUSINESS, Route.BUSINESS_TO_PAYMENT):
            source, destination = ends[route.source], ends[route.destination]
            sender = Sender(
                destination.chain.w3, gas[route.destination], destination.name, sender_settings
            )

            def quorum(verifier: StoreVerifier) -> QuorumClient:
                client = QuorumClient(peers, verifier, store, self.metrics, pushed=pushed)
                self._clients.append(client)
                return client

            self.routes.append(
                RelayRoute(
                    route,
                    source,
                    destination,
                    store,
                    attesters,
                    quorum,
                    sender,
                    self.metrics,
                    # read at the source chain's depth, confirmed at the destination's
                    replace(
                        getattr(options, route.source),
                        destination_confirmations=getattr(options, route.destination).confirmations,
                    ),
                    options.retry,
                    rng,
                )
            )
            if (head := self.heads.get(route.source)) is not None:
                self.routes[-1].head_hint = head.latest
            wake = self.wakes[route] = Wake()
            for chain in (route.source, route.destination):
                if (subscription := self.heads.get(chain)) is not None:
                    subscription.add_listener(wake.notify)
            if pushed is not None:
                pushed.add_listener(wake.notify)

    def tick(self) -> None:
        """One pass over both routes; a passing fault is logged and retried next tick."""
        for route in self.routes:
            tick_route(route, self.metrics)
        self.metrics.refresh_from_store(self.store)

    def run(
        self,
        poll_interval: float | Mapping[str, float],
        stop: threading.Event,
        *,
        check_chains: Callable[[], None] | None = None,
        check_every: float = IDENTITY_CHECK_SECONDS,
    ) -> None:
        """Run one worker thread per route until `stop` is set; every `check_every`
        seconds run `check_chains` (it raises if an RPC now serves another chain). An
        UnrecoverableError in a worker (or the check) stops the relayer loudly: it is
        raised here. `poll_interval` is seconds, or seconds per chain name."""
        polls: Mapping[str, float] = (
            {"payment": poll_interval, "business": poll_interval}
            if isinstance(poll_interval, int | float)
            else poll_interval
        )
        failures: list[BaseException] = []
        halt = threading.Event()

        def work(route: RelayRoute) -> None:
            try:
                with profiled(f"route-{route.route.value}"):
                    self._work(route, polls, stop, halt)
            except BaseException as exc:  # handed to the main thread, raised there
                failures.append(exc)
                halt.set()

        workers = [
            threading.Thread(target=work, args=(r,), name=f"pvd-route:{r.route.value}")
            for r in self.routes
        ]
        for worker in workers:
            worker.start()
        checked = time.monotonic()
        try:
            while not stop.is_set() and not halt.is_set():
                if check_chains is not None and time.monotonic() - checked >= check_every:
                    check_chains()
                    checked = time.monotonic()
                halt.wait(min(1.0, check_every))
        finally:
            halt.set()
            for wake in self.wakes.values():
                wake.notify()
            for worker in workers:
                worker.join()
        if failures:
            raise failures[0]

    def _work(
        self,
        route: RelayRoute,
        polls: Mapping[str, float],
        stop: threading.Event,
        halt: threading.Event,
    ) -> None:
        """One route's worker: tick, then sleep until woken or the timer is due."""
        wake = self.wakes[route.route]
        chains = (route.route.source, route.route.destination)
        poll = min(polls[chain] for chain in chains)
        refreshed = 0.0
        while not stop.is_set() and not halt.is_set():
            tick_route(route, self.metrics)
            if time.monotonic() - refreshed >= METRICS_REFRESH_SECONDS:
                self.metrics.refresh_from_store(self.store)
                refreshed = time.monotonic()
            if route.more_to_attest:
                continue  # a backlog: attest the next part at once
            subscribed = all(
                (h := self.heads.get(chain)) is not None and h.live for chain in chains
            )
            busy = self.store.backlog(route.route) > 0
            wake.wait(poll if busy or not subscribed else max(poll, IDLE_CHECK_SECONDS))

    def run_until(self, done: Callable[[], bool], timeout: float, poll: float = 0.0) -> bool:
        """Tick until `done()` (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.tick()
            if done():
                return True
            time.sleep(poll)
        return done()

    def close(self) -> None:
        for subscription in self.heads.values():
            subscription.close()
        for client in self._clients:
            client.close()


#: What a node in trouble raises from the reads a route makes outside the Sender (which
#: sorts its own errors): refused, reset, timed out, an HTTP error status. Passing faults.
NODE_FAULTS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    ProviderConnectionError,
    ConnectionError,
    TimeoutError,
)


@contextmanager
def profiled(name: str) -> Iterator[None]:
    """Profile the calling thread with cProfile while inside, if the environment variable
    PVD_PROFILE_DIR names a folder: the stats go to <folder>/<name>-<pid>.prof on exit
    (read them with `python -m pstats`). A development aid; off unless set."""
    folder = os.environ.get(PROFILE_ENV, "")
    if not folder:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(Path(folder) / f"{name}-{os.getpid()}.prof"))


def tick_route(route: RelayRoute, metrics: RelayerMetrics) -> None:
    """Run one route once. A RecoverableError, a node fault (NODE_FAULTS) from one of its
    reads, or a node answering that it does not have the block a read asked for (a reorg
    to a shorter chain under the step) is logged and counted and the route goes on at the
    next tick: every step of a tick is safe to repeat. Anything else (UnrecoverableError,
    another node error, a bug) propagates."""
    try:
        route.tick()
    except RecoverableError as exc:
        _log.warning("%s: %s", route.route.value, exc, extra={"route": route.route.value})
    except NODE_FAULTS as exc:
        _node_fault(route, metrics, "rpc_unavailable", exc)
    except Web3RPCError as exc:
        if not block_unavailable(exc):
            raise
        _node_fault(route, metrics, "block_unavailable", exc)


def _node_fault(
    route: RelayRoute, metrics: RelayerMetrics, reason: str, exc: BaseException
) -> None:
    metrics.count_failure(route.route, reason)
    detail = " ".join(str(exc).split())[:300]
    _log.warning(
        "%s: node fault, retrying next tick: %s: %s",
        route.route.value,
        type(exc).__name__,
        detail,
        extra={"route": route.route.value},
    )


def _connect(config: ChainConfig) -> Chain:
    """The first of the chain's RPC URLs that answers."""
    failures = []
    for url in config.rpc_urls:
        try:
            return rpc_chain(config.name, url, config.domain_id)
        except UserError as exc:
            failures.append(str(exc))
    raise UserError("; ".join(failures))


def _settings(config: ChainConfig, relay: RelayConfig) -> RouteSettings:
    return RouteSettings(
        confirmations=config.confirmations,
        chunk_blocks=config.log_chunk_size,
        rescan_margin=config.rescan_margin,
        batch_size=relay.batch_size,
        submit_turn_seconds=relay.submit_turn_seconds,
    )


def refuse_checkpoints_ahead(store: Store, heads: dict[ChainName, int]) -> None:
    """UserError if a route's checkpoint is above its source chain's head: the chain was
    reset (or the store belongs to another chain) and this store's record of what is done
    is meaningless there. Checked at start, before anything is served or written."""
    for route in Route:
        checkpoint = store.checkpoint(route)
        head = heads[route.source]
        if checkpoint is not None and checkpoint.block > head:
            raise UserError(
                f"{route.source} chain: store {store.path} has checkpoint {checkpoint.block} "
                f"for {route.value}, ahead of the chain head {head}: the chain was reset; "
                "give this relayer a new store path (or move the old store away)"
            )


def run_from_config(config: RelayConfig, stop: threading.Event) -> None:
    """The `pvd relay` process: build everything from `config`, then loop until `stop`."""
    keys = load_keys(config.attestation_key, config.gas_key)
    with ExitStack() as cleanup:
        addresses = (keys.attestation.address, keys.gas.address)
        cleanup.enter_context(RelayerLocks(config.store.path, config.store.lock_dir, addresses))
        payment_chain, business_chain = _connect(config.payment), _connect(config.business)
        payment = end_from_manifest(payment_chain, config.payment.manifest, PAYMENT_APPS)
        business = end_from_manifest(business_chain, config.business.manifest, BUSINESS_APPS)
        store = Store(config.store.path)
        cleanup.callback(store.close)
        refuse_checkpoints_ahead(
            store,
            {
                "payment": payment_chain.w3.eth.block_number,
                "business": business_chain.w3.eth.block_number,
            },
        )
        # Dead messages are taken up again by each route's start sweep (RelayRoute.sweep,
        # on the first tick) if they are still open on chain; `pvd retry` re-opens on demand.
        metrics = RelayerMetrics()
        if server := metrics.serve(config.metrics.port, config.metrics.host):
            cleanup.callback(server.close)
            _log.info("metrics at http://%s:%d/metrics", config.metrics.host, config.metrics.port)
        else:
            _log.info("no metrics endpoint ([metrics] port = 0)")
        pushed = PushedSignatures(peer.address for peer in config.quorum.peers)
        signatures = serve_signatures(config.quorum, store, keys.attestation.address, pushed)
        if signatures is not None:
            cleanup.callback(signatures.close)
        options = RouteOptions(
            _settings(config.payment, config),
            _settings(config.business, config),
            RetryPolicy.from_config(config.retry),
        )
        heads: dict[str, HeadSubscription] = {
            chain.name: HeadSubscription(chain.name, chain.ws_urls)
            for chain in (config.payment, config.business)
            if chain.ws_urls
        }
        relayer = Relayer(
            payment,
            business,
            store,
            [keys.attestation],
            {"payment": keys.gas, "business": keys.gas},
            options,
            metrics=metrics,
            peers=config.quorum.peers,
            sender_settings=SenderSettings(access_lists=config.access_lists),
            pushed=pushed,
            heads=heads,
        )
        cleanup.callback(relayer.close)
        for subscription in heads.values():
            subscription.start()
        _log.info(
            "relaying as attester %s (gas key %s)", keys.attestation.address, keys.gas.address
        )
        polls: dict[str, float] = {
            c.name: c.poll_interval for c in (config.payment, config.business)
        }
        try:
            relayer.run(polls, stop, check_chains=lambda: check_chains(config, payment, business))
        except UnrecoverableError:
            _log.exception("stopping: unrecoverable")
            raise


def check_chains(config: RelayConfig, payment: ChainEnd, business: ChainEnd) -> None:
    """Each RPC still serves the chain its manifest names (chain id, genesis, domain)."""
    for end, chain_config in ((payment, config.payment), (business, config.business)):
        try:
            check_identity(end.chain, read_manifest(chain_config.manifest))
        except UserError as exc:  # at start a user error; while running, unsafe to go on
            raise UnrecoverableError(str(exc)) from None
