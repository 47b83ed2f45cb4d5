"""Configuration of the server: environment variables, overridable by ``gavel serve`` flags.

==========================  ======================================  =====================
variable                    meaning                                 default
==========================  ======================================  =====================
``DATABASE_URL``            PostgreSQL URL; unset: embedded server  (embedded)
``GAVEL_HOST``              address to listen on                    ``127.0.0.1``
``GAVEL_PORT``              port                                    ``8000``
``GAVEL_DATA_DIR``          embedded database and signing key       ``./var``
``GAVEL_SIGNING_KEY``       Ed25519 private key (PEM); unset: the   (file in data dir)
                            key file in the data dir, created once
``GAVEL_ALLOWED_ORIGINS``   comma-separated websocket origins       host:port, localhost
``GAVEL_TOKEN_TTL_S``       lifetime of issued tokens (seconds)     ``3600``
``GAVEL_RATE_PER_S``        requests per second per token/address   ``50``
``GAVEL_RATE_BURST``        burst size of that bucket               ``100``
``GAVEL_COMMIT_MODE``       ``group`` or ``single`` commits         ``group``
``GAVEL_COMMIT_WINDOW_US``  group-commit window                     ``2000``
``GAVEL_MAX_BODY``          largest request body (bytes)            ``16384``
``GAVEL_SOCKET_QUEUE``      frames a slow socket may owe            ``1000``
``GAVEL_HEARTBEAT_S``       seconds between heartbeats              ``5``
``GAVEL_LOG_LEVEL``         ``DEBUG``, ``INFO``, ``WARNING``        ``INFO``
``GAVEL_WS_RATE_PER_S``     websocket handshakes per second per     ``GAVEL_RATE_PER_S``
                            address (refused with 429)
``GAVEL_WS_RATE_BURST``     burst size of that bucket               ``GAVEL_RATE_BURST``
``GAVEL_WS_TOKEN_RATE_...`` ``_PER_S`` and ``_BURST``: the same per  a tenth of those
                            token
``GAVEL_RUNNER_IDLE_S``     idle seconds before an ended auction    ``300``
                            leaves memory
``GAVEL_RUNNER_QUEUE``      commands queued per auction before 503  ``10000``
``GAVEL_WRITER_BACKLOG``    uncommitted events before commands get  ``100000``
                            503
``GAVEL_OUTCOME_WAIT_S``    seconds a command whose commit failed   ``30``
                            waits for its fate before the answer
                            ``outcome_unknown``
``GAVEL_SNAPSHOT_EVERY``    committed events between snapshots of   ``1000``
                            a live auction (0: none)
``GAVEL_AUDIT``             ``off``: no checkpoints issued after    ``on``
                            commits (the append-cost benchmark;
                            also ``0``, ``false``, ``no``)
``GAVEL_AUDIT_PREFIX``      first part of the checkpoints' origin   ``gavel``
                            line: ``PREFIX/auction/ID``
``GAVEL_DB_WAIT_S``         seconds to wait for an unreachable      (wait for ever)
                            database at start-up before exiting
                            with one line (status 1); unset: wait
                            as long as it takes (``/readyz`` 503)
``GAVEL_RECLAIM``           ``off``: no full collection (and no     ``on``
                            ``malloc_trim``) after websockets
                            close (:mod:`api.http.reclaim`; to measure
                            what it does)
``GAVEL_DEBUG_MEMORY``      ``on``: Python objects and resident     ``off``
                            set on ``/metrics`` (diagnosis only)
``NATS_URL``                NATS server(s) of a cluster (comma-     (none: one node,
                            separated); set: this process is one    no NATS)
                            node of many (``docs/deploy.md``)
``GAVEL_CLUSTER``           the cluster's name: the first token of  ``gavel``
                            its NATS subjects (one NATS server may
                            carry several clusters)
``GAVEL_NODE_ID``           this node's name in the cluster         ``HOST-PID``
``GAVEL_NODE_URL``          where clients reach this node           ``http://HOST:PORT``
``GAVEL_LEASE_TTL_S``       seconds a node's lease on an auction    ``3``
                            lasts without renewal (failover time)
``GAVEL_LEASE_RENEW_S``     seconds between lease renewals and      ``1``
                            scans for auctions without an owner
``GAVEL_LISTEN_FD``         a listening socket inherited from       (bind host:port)
                            ``gavel serve --workers`` (its fd)
==========================  ======================================  =====================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server reads at start-up."""

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    signing_key_pem: str | None = None
    allowed_origins: tuple[str, ...] = ()
    token_ttl_s: int = 3600
    rate_per_s: float = 50.0
    rate_burst: int = 100
    commit_mode: str = "group"
    commit_window_us: int = 2000
    max_body: int = 16384
    socket_queue: int = 1000
    heartbeat_s: float = 5.0
    log_level: str = "INFO"
    demo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: Websocket handshakes per address (None: ``rate_per_s`` / ``rate_burst``).
    ws_rate_per_s: float | None = None
    ws_rate_burst: int | None = None
    #: Websocket handshakes per token (None: a tenth of the per-address bucket).
    ws_token_rate_per_s: float | None = None
    ws_token_rate_burst: int | None = None
    #: Seconds an ended auction's runner may sit idle before it is dropped from memory.
    runner_idle_s: float = 300.0
    #: Commands one auction's runner may hold queued; more are refused (503 overloaded).
    runner_queue: int = 10_000
    #: Events the group-commit writer may hold uncommitted before commands are refused.
    writer_backlog: int = 100_000
    #: Seconds the callers of a failed commit wait for storage to tell its fate
    #: (``api.auctions.runner``) before they hear ``outcome_unknown``.
    outcome_wait_s: float = 30.0
    #: Committed events between snapshots of a live auction (0: none; recovery then
    #: replays whole logs).
    snapshot_every: int = 1000
    #: Issue checkpoints after commits (opening, round end, close; tender deadlines,
    #: openings and decisions). Off only to measure what the audit trail costs.
    audit: bool = True
    #: The checkpoints' origin line is ``{audit_prefix}/{auction|tender}/{id}``.
    audit_prefix: str = "gavel"
    #: Seconds to wait at start-up for a database that cannot be reached (retrying with
    #: back-off, ``/readyz`` 503 meanwhile) before giving up; ``None``: for ever.
    db_wait_s: float | None = None
    #: A full collection once enough websockets closed (:mod:`api.http.reclaim`).
    reclaim: bool = True
    #: Python objects and the resident set on ``/metrics`` (an O(objects) walk).
    debug_memory: bool = False
    #: NATS server URL(s), comma-separated; ``None``: a single node without NATS.
    nats_url: str | None = None
    #: The cluster's name: the root of its NATS subjects.
    cluster_name: str = "gavel"
    #: This node's name among the cluster's (``None``: ``hostname-pid``).
    node_id: str | None = None
    #: Where clients reach this node (``None``: :attr:`base_url`).
    node_url: str | None = None
    #: Seconds a lease lasts without renewal, and seconds between renewals.
    lease_ttl_s: float = 3.0
    lease_renew_s: float = 1.0
    #: A listening socket inherited from ``gavel serve --workers`` (``None``: bind).
    listen_fd: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``env`` (default ``os.environ``), then keyword overrides."""
        env = os.environ if env is None else env
        settings = cls(
            database_url=env.get("DATABASE_URL") or None,
            host=env.get("GAVEL_HOST", "127.0.0.1"),
            port=int(env.get("GAVEL_PORT", "8000")),
            data_dir=Path(env.get("GAVEL_DATA_DIR", "var")),
            signing_key_pem=env.get("GAVEL_SIGNING_KEY") or None,
            allowed_origins=tuple(
                origin.strip()
                for origin in env.get("GAVEL_ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
            token_ttl_s=int(env.get("GAVEL_TOKEN_TTL_S", "3600")),
            rate_per_s=float(env.get("GAVEL_RATE_PER_S", "50")),
            rate_burst=int(env.get("GAVEL_RATE_BURST", "100")),
            commit_mode=env.get("GAVEL_COMMIT_MODE", "group"),
            commit_window_us=int(env.get("GAVEL_COMMIT_WINDOW_US", "2000")),
            max_body=int(env.get("GAVEL_MAX_BODY", "16384")),
            socket_queue=int(env.get("GAVEL_SOCKET_QUEUE", "1000")),
            heartbeat_s=float(env.get("GAVEL_HEARTBEAT_S", "5")),
            log_level=env.get("GAVEL_LOG_LEVEL", "INFO"),
            ws_rate_per_s=_number(env, "GAVEL_WS_RATE_PER_S", float),
            ws_rate_burst=_number(env, "GAVEL_WS_RATE_BURST", int),
            ws_token_rate_per_s=_number(env, "GAVEL_WS_TOKEN_RATE_PER_S", float),
            ws_token_rate_burst=_number(env, "GAVEL_WS_TOKEN_RATE_BURST", int),
            runner_idle_s=float(env.get("GAVEL_RUNNER_IDLE_S", "300")),
            runner_queue=int(env.get("GAVEL_RUNNER_QUEUE", "10000")),
            writer_backlog=int(env.get("GAVEL_WRITER_BACKLOG", "100000")),
            outcome_wait_s=float(env.get("GAVEL_OUTCOME_WAIT_S", "30")),
            snapshot_every=int(env.get("GAVEL_SNAPSHOT_EVERY", "1000")),
            audit=_switch(env, "GAVEL_AUDIT", True),
            audit_prefix=env.get("GAVEL_AUDIT_PREFIX") or "gavel",
            db_wait_s=_number(env, "GAVEL_DB_WAIT_S", float),
            reclaim=_switch(env, "GAVEL_RECLAIM", True),
            debug_memory=_switch(env, "GAVEL_DEBUG_MEMORY", False),
            nats_url=env.get("NATS_URL") or None,
            cluster_name=env.get("GAVEL_CLUSTER") or "gavel",
            node_id=env.get("GAVEL_NODE_ID") or None,
            node_url=env.get("GAVEL_NODE_URL") or None,
            lease_ttl_s=float(env.get("GAVEL_LEASE_TTL_S", "3")),
            lease_renew_s=float(env.get("GAVEL_LEASE_RENEW_S", "1")),
            listen_fd=_number(env, "GAVEL_LISTEN_FD", int),
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def origins(self) -> frozenset[str]:
        """Websocket origins accepted at the handshake."""
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        return frozenset(
            {
                f"http://{self.host}:{self.port}",
                f"http://localhost:{self.port}",
                f"http://127.0.0.1:{self.port}",
            }
        )

    @property
    def clustered(self) -> bool:
        """Whether this process is one node of a cluster (``NATS_URL`` set)."""
        return self.nats_url is not None

    @property
    def base_url(self) -> str:
        """Where the server listens, as an http URL."""
        return f"http://{self.host}:{self.port}"


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """``env[name]`` as on/off (``on``, ``1``, ``true``, ``yes`` or ``off``, ``0``,
    ``false``, ``no``; any case); ``default`` when unset or empty, ValueError otherwise."""
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _number(env: Mapping[str, str], name: str, kind: Any) -> Any:
    """``kind(env[name])``, or ``None`` when the variable is unset or empty."""
    value = env.get(name)
    return kind(value) if value else None
