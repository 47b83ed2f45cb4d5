"""Many Gavel nodes over one PostgreSQL and NATS (issue 17).

PostgreSQL stays the source of truth and decides who owns each live auction or tender
(a lease row with an epoch, :mod:`api.storage.leases`); NATS carries committed events and
forwarded commands between nodes. A node without ``NATS_URL`` uses none of this.
"""
