"""Sealed tenders: the service, its request bodies, who sees what, the hand-off to an
auction, and the tender CLI.

- :mod:`~api.tenders.service`: :class:`~api.tenders.service.TenderService`, every tender
  this node serves (the engine's tenders over a :class:`~api.storage.tenders.TenderStore`,
  the key ceremony, receipts, the opening); each command takes its idempotency mark;
- :mod:`~api.tenders.bodies`: request bodies parsed into the engine's specs;
- :mod:`~api.tenders.visibility`: who may see a tender's parts, log, offers, receipts;
- :mod:`~api.tenders.handoff`: the saga that hands a lot's opened prices to a new
  multi-round auction, over an :class:`~api.tenders.handoff.Auctions` port;
- :mod:`~api.tenders.errors`: the package's one root exception,
  :class:`~api.tenders.errors.TenderError`, its tree in the docstring;
  :mod:`api.http.tenders` answers each as the problem it names;
- :mod:`~api.tenders.cli`: ``gavel tender``, a client of the HTTP routes;
- :mod:`~api.tenders.ports`: what the service needs of a cluster
  (:class:`~api.tenders.ports.TenderOwners`: the tender's lease, forwarding to its
  holder), filled by :mod:`api.cluster.tender_ownership` when ``NATS_URL`` is set;
- :mod:`~api.tenders.remote`: a service call and its answer on the wire between nodes;
- :mod:`~api.tenders.reports`: the opening's report.

Imports :mod:`api.auctions`, :mod:`api.access`, :mod:`api.storage`, :mod:`contracts`,
:mod:`engine`; never :mod:`sanic` nor any HTTP type.
"""
