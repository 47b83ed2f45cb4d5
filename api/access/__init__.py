"""Who may do what: signed tokens, route access rules, revocations, rate limits, secrets at rest.

Imports :mod:`api.storage`, :mod:`contracts` and :mod:`engine`; never :mod:`sanic`.
"""
