"""The live-server fixtures of the API tests (``start_server``, ``server``), for the
simulated bidders' tests that run against a real server process."""

from __future__ import annotations

from tests.api.conftest import server, start_server

__all__ = ["server", "start_server"]
