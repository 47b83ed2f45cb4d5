"""Live sockets: one websocket route shared by the core and the edges, its sessions, the hub
that fans events out, replay, the core's feed, and the read-only edge.

- :mod:`~api.live.route`: ``/ws/v1/auctions/<auction_id>`` as a blueprint over a
  :class:`~api.live.source.LiveSource`: handshake limit, origin, token, then a session;
- :mod:`~api.live.source`: what the route (:class:`~api.live.source.LiveSource`) and a
  session (:class:`~api.live.source.SessionSource`) use of their node, as Protocols;
- :mod:`~api.live.core_source`: the core's sources, over its node and service;
- :mod:`~api.live.edge`: the read-only edge (its sources, the feed client; its app and
  process are :mod:`api.http.edge`);
- :mod:`~api.live.ws`: one session (subscribe, resume, stream, commands, heartbeats);
- :mod:`~api.live.handshake`: a handshake's rate limit and token;
- :mod:`~api.live.hub`: per-auction channels and bounded subscriber queues;
- :mod:`~api.live.replay`: replays of ended auctions on a session;
- :mod:`~api.live.feed`: the core's feed of commits to its edges;
- :mod:`~api.live.sanic_ws`: the only module touching Sanic's websocket internals;
- :mod:`~api.live.flag`: a lean ``asyncio.Event`` for objects that live once per socket.

Imports :mod:`api.auctions`, :mod:`api.access`, :mod:`api.storage`, :mod:`contracts`,
:mod:`engine`, ``sanic`` and ``websockets``; never :mod:`api.http`.
"""
