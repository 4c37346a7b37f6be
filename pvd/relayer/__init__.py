"""The off-chain relayer of pvd (`pvd relay`): one process per attester.

Chain-independent building blocks, one concern per module (docs/relayer.md):

- config: the TOML config and its PVD_* environment overrides, as frozen dataclasses
- keys: the attestation and gas keys, behind a wrapper that shows only the address
- store: SQLite (WAL) checkpoints, message statuses that only gain, signatures
- lock: one relayer per store and per key (flock, reclaimed when the holder dies)
- retry: bounded exponential backoff with full jitter, then dead (off-chain only)
- metrics: Prometheus metrics in a registry per relayer, served over HTTP
- log: structured logging with chain, block, message id and tx hash fields

Nothing here talks to a node: web3 stays in the modules that do. Import the modules
themselves (`from pvd.relayer.store import Store`); this package imports nothing.
"""
