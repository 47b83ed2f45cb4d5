"""The audit trail: checkpoints, bundles, OCDS releases and the auditor's CLI.

Imports :mod:`api.auctions`, :mod:`api.storage`, :mod:`contracts` and :mod:`engine`.
"""
