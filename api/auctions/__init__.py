"""Live auctions: the service that owns one runner per auction, its outcomes, views and story.

Imports :mod:`api.storage`, :mod:`contracts` and :mod:`engine`; never :mod:`sanic`.
"""
