"""Many Gavel nodes over one PostgreSQL and NATS (issue 17).

PostgreSQL stays the source of truth and decides who owns each live auction or tender
(a lease row with an epoch, :mod:`api.storage.leases`); NATS carries committed events and
forwarded commands between nodes. A node without ``NATS_URL`` uses none of this.

- :mod:`~api.cluster.ownership`: an auction's lease (claimed, renewed, taken over,
  balanced, released) and its commands forwarded to the holder; the service's ``Owners``;
- :mod:`~api.cluster.tender_ownership`: the same for sealed tenders;
- :mod:`~api.cluster.bus`: the NATS connection (subjects under the cluster's name);
- :mod:`~api.cluster.nats_server`: a local ``nats-server`` from the wheel;
- :mod:`~api.cluster.launch`, :mod:`~api.cluster.cli`: ``gavel serve --workers N`` and
  ``gavel cluster up``.
"""
