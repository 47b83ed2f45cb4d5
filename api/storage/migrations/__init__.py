"""Versioned SQL migrations, applied in order by :mod:`api.storage.migrate`.

Each file is ``NNNN_name.sql``: a four-digit version (1, 2, 3, … with no gap) and a
name. A file, once released, is never edited: a schema change is a new file. Each file
runs inside the one transaction that :func:`api.storage.migrate.migrate` opens, so it
must not use statements that refuse transactions (``CREATE INDEX CONCURRENTLY``,
``VACUUM``).
"""
