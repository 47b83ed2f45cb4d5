"""Who may do what: signed tokens, route access rules, revocations, rate limits, secrets at
rest, and the server's credentials that hold them together.

- :mod:`~api.access.auth`: tokens (issue, verify, the bearer header) and their refusals;
- :mod:`~api.access.rules`: every route's rule, and who may mint which token;
- :mod:`~api.access.credentials`: the server's key, its tokens and their rate limits,
  as one object the node builds;
- :mod:`~api.access.revocations`, :mod:`~api.access.ratelimit`, :mod:`~api.access.at_rest`;
- :mod:`~api.access.errors`: the package's one root exception,
  :class:`~api.access.errors.AccessError`, and :class:`~api.access.errors.Refused`, a
  refusal carrying its code, detail, status and retry-after, which :mod:`api.http`
  answers as a problem.

Imports :mod:`api.storage`, :mod:`contracts` and :mod:`engine`; never :mod:`sanic` nor any
HTTP type.
"""
