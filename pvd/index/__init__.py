"""The chain index: both chains' pvd events, decoded once, in one database (SQLite by
default, PostgreSQL at scale), kept incrementally and rolled back on reorgs.

- events.py: the one decoding of every pvd event (compiled ABIs -> frozen ChainEvent);
- schema.py, migrations/: the tables (SQLAlchemy Core, Alembic);
- db.py: opening a database, its schema revision, the one-writer lock;
- store.py: writing a batch, rolling back a reorg, the projections;
- ingest.py: reading the chains in batches from the checkpoint;
- query.py: the read API (trades page, a trade's events, messages, money);
- trace.py: one trade's timeline across both chains.

docs/index.md describes the schema and the reorg handling.
"""
