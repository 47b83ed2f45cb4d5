"""Sealed tenders: the service, the hand-off to an auction, and the tender CLI.

Imports :mod:`api.auctions`, :mod:`api.storage`, :mod:`contracts`, :mod:`engine`; never sanic.
"""
