"""The composition root: one :class:`Node` builds, starts and stops everything a Gavel
server runs on, and nothing else does.

What it holds: the settings, the credentials (:class:`~api.access.credentials.Credentials`:
signing key, tokens, revocations, rate limits), the websocket fan-out (:class:`~api.live.hub.Hub`)
and, once started, the embedded PostgreSQL (when ``DATABASE_URL`` is unset), the pool,
the group-commit writer, the idempotency store, the ``tokens`` table, the revocation
listener, the auctions' :class:`~api.auctions.service.Service` and the tenders'
:class:`~api.tenders.service.TenderService` (:attr:`Node.tenders`). The parts built later
by the routes' packages hang off typed attributes (:attr:`Node.observers`,
:attr:`Node.tender_observers`, :attr:`Node.checkpoint_listeners`, :attr:`Node.audit`,
:attr:`Node.tender_checkpoint`, :attr:`Node.on_stop`), never off an app's context by
name.

No HTTP here: :mod:`api.http` builds the Sanic app around a node and maps the node's
errors (:class:`NotReady`) and the credentials' refusals to problems.

Call order: ``Node(settings, answers=...)`` → register observers and hooks → :meth:`Node.begin` (or
``await`` :meth:`Node.start`) with an event loop running → serve → :meth:`Node.stop`.

The exceptions of this module::

    NodeError                  root
    ├── NotReady               a service is asked for while starting or stopping (503)
    └── DatabaseUnreachable    start-up gave up on the database
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from api.access import auth
from api.access.credentials import Credentials
from api.access.revocations import Revocations, keep_current
from api.auctions.runner import NotOwner
from api.auctions.service import Service
from api.audit.trail import AuditTrails
from api.cluster.bus import Bus
from api.cluster.ownership import Ownership
from api.cluster.tender_ownership import TenderOwnership
from api.demo import seed_demo
from api.live.edge import EdgeService
from api.live.hub import Hub
from api.live.sanic_ws import stop_reading
from api.live.ws import CLOSE_WAIT_S, close_going_away
from api.settings import Settings
from api.storage import (
    EmbeddedPostgres,
    GroupCommitWriter,
    PostgresEventStore,
    create_pool,
    migrate,
    start_embedded,
)
from api.storage.errors import EmbeddedPostgresError
from api.storage.idempotency import IdempotencyKeys, IdempotentRunner, PostgresIdempotencyKeys
from api.storage.ids import IdKind, id_kind
from api.storage.invitations import PostgresInvitationStore
from api.storage.leases import PostgresLeaseStore
from api.storage.listener import (
    CONNECT_ERRORS,
    Backoff,
    HeldListener,
    describe_dsn,
    error_line,
    redact_dsn,
    scrub_dsn_secrets,
)
from api.storage.postgres import fetch_last_seqs
from api.storage.tenders import PostgresTenderStore
from api.storage.tokens import PostgresTokenStore, TokenStore
from api.tenders import remote as remote_tenders
from api.tenders.service import TenderObserver, TenderService
from engine import Event
from engine.codec import decode_event, encode_event

__all__ = ["PURGE_EVERY_S", "DatabaseUnreachable", "Node", "NodeError", "NotReady"]

log = logging.getLogger("gavel.app")

#: Seconds between checks that the auctions followed here are not behind their logs.
RECONCILE_EVERY_S = 2.0
#: Connections of the leases' pool in a cluster: the round (scans, claims) and the holder
#: look-ups of forwarded commands. The beat (heartbeat, renewal) has one of its own.
LEASE_POOL_SIZE = 3

#: How often expired idempotency keys are deleted (also once at start-up).
PURGE_EVERY_S = 3600.0

#: A fresh signed checkpoint of a tender's log for a receipt: ``(tender_id, reason)``
#: → ``{"origin": str, "size": int, "root": hex str, "note": str}``.
TenderCheckpoint = Callable[[str, str], Awaitable[dict[str, str | int]]]


class NodeError(Exception):
    """Root of the exceptions of this module."""


class NotReady(NodeError):
    """The service was asked for while the node starts or stops (answered 503
    ``shutting_down`` with ``Retry-After: 1``)."""


class DatabaseUnreachable(NodeError):
    """Start-up gave up on the database (``GAVEL_DB_WAIT_S`` passed, or a ``DATABASE_URL``
    that is no PostgreSQL URL); the message is the one line to log, password left out."""


def _signing_key(settings: Settings) -> Ed25519PrivateKey:
    key = (
        auth.signing_key_from_env({"GAVEL_SIGNING_KEY": settings.signing_key_pem})
        if settings.signing_key_pem
        else auth.load_or_create_signing_key(Path(settings.data_dir) / "signing-key.pem")
    )
    # Never None: the variable handed to signing_key_from_env is set and non-empty.
    assert key is not None
    return key


class Node:
    """Everything one server process runs on; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        answers: Callable[[IdempotencyKeys], IdempotentRunner] = IdempotentRunner,
    ) -> None:
        self.settings = settings
        #: Builds :attr:`idempotency` over the keys' table once storage is up: the HTTP
        #: layer passes its runner, which stores its refusals as answers.
        self._answers = answers
        self.hub = Hub()
        self.credentials = Credentials(
            _signing_key(settings),
            token_ttl_s=settings.token_ttl_s,
            rate_per_s=settings.rate_per_s,
            rate_burst=settings.rate_burst,
        )
        self.embedded: EmbeddedPostgres | None = None
        self.pool: asyncpg.Pool | None = None
        self.writer: GroupCommitWriter | None = None
        self.service: Service | None = None
        #: The tenders' service, built with the storage (see :attr:`tender_svc`).
        self.tenders: TenderService | None = None
        self._tenders_served = False
        self.idempotency: IdempotentRunner | None = None
        #: Given to the service: called after each commit (see Service.observers).
        self.observers: list[Callable[[str, list[Event]], None]] = []
        #: Given to the tender service: called after each committed tender append.
        self.tender_observers: list[TenderObserver] = []
        #: The auctions' audit trail calls each as ``(auction_id, note, size, root)``
        #: when it has issued a checkpoint (see AuditTrail.listeners).
        self.checkpoint_listeners: list[Callable[[str, str, int, bytes], None]] = []
        #: The audit trails (:mod:`api.audit`), set by whoever builds them
        #: (:func:`api.http.audit.node_trails`).
        self.audit: AuditTrails | None = None
        #: Set by the audit trail when it is on: the tender receipts attach its answer.
        self.tender_checkpoint: TenderCheckpoint | None = None
        self.ready = False
        self.closing = False
        #: The open websockets (closed with 1001 on shutdown). Of ``Any`` type: they are
        #: Sanic's connections, which the node (no HTTP) does not name; the functions of
        #: :mod:`api.live.ws` that handle them take ``Any`` too.
        self.sockets: set[Any] = set()
        #: Keeps the revocations current from other processes' revocations (started
        #: with the storage; see :func:`api.access.revocations.keep_current`).
        self.listener: HeldListener | None = None
        #: While start-up waits for the database: what the last attempt said (for
        #: ``/readyz``); ``None`` otherwise.
        self.waiting: str | None = None
        #: Awaited by :meth:`stop` once the runners are done (every commit made and
        #: observed), before the writer and the pool close: the audit trail drains its
        #: checkpoints here.
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        self._starting: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Future[None] | None = None
        self._purger: asyncio.Task[None] | None = None
        #: The demo's opponents (``gavel serve --demo``), cancelled first on shutdown.
        self._demo_opponents: asyncio.Task[None] | None = None
        #: In a cluster (``NATS_URL`` set): this node's name, the NATS connection, the
        #: leases and forwarding, and the channels fed from other owners' commits.
        self.node_id = settings.node_id or f"{socket.gethostname()}-{os.getpid()}"
        #: This process's name in the leases and on NATS: the node id and a token drawn at
        #: start. Epochs fence owners, so a process that restarts under the same node id
        #: (a rolling restart) must not renew, at the same epoch, a lease its previous
        #: life held: it is a new owner, and takes such a lease at the next epoch.
        self.incarnation = f"{self.node_id}.{secrets.token_hex(3)}"
        self.bus: Bus | None = None
        self.ownership: Ownership | None = None
        #: In a cluster: the tenders' leases and forwarding (api.cluster.tender_ownership).
        self.tender_ownership: TenderOwnership | None = None
        self.follower: EdgeService | None = None
        #: What goes out on NATS, in order: (auction, its commit's events, a note or None).
        self._outbound: asyncio.Queue[tuple[str, list[bytes], bytes | None]] | None = None
        self._noting: set[asyncio.Future[None]] = set()
        #: Undoes what joining the cluster added to the node's hooks (a failed start
        #: joins again).
        self._unhook: list[Callable[[], None]] = []
        self._publisher: asyncio.Task[None] | None = None
        self._cluster_left = False
        self._reconciler: asyncio.Task[None] | None = None
        #: The leases' own connections (:data:`LEASE_POOL_SIZE`: scans, claims, holder
        #: look-ups) and the beats' one (heartbeats, renewals): a renewal never waits
        #: behind the commits and reads of a busy node, nor behind its look-ups.
        self._lease_pools: list[asyncpg.Pool] = []

    # -- what the credentials hold, as the routes and sessions read it -----------------

    @property
    def key(self) -> Ed25519PrivateKey:
        """The server's signing key (tokens, receipts, checkpoints)."""
        return self.credentials.key

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half of :attr:`key`: what verifies a token."""
        return self.credentials.public_key

    @property
    def revoked(self) -> Revocations:
        """Every revoked, unexpired token (see :attr:`Credentials.revoked`)."""
        return self.credentials.revoked

    @property
    def tokens(self) -> TokenStore | None:
        """The ``tokens`` table once started, else ``None``."""
        return self.credentials.tokens

    @property
    def svc(self) -> Service:
        """The service; :class:`NotReady` while starting or stopping."""
        if self.service is None or self.closing:
            raise NotReady("the server is not ready")
        return self.service

    @property
    def tender_svc(self) -> TenderService:
        """The tender service; :class:`NotReady` before the storage is up, and while
        stopping if it has served nothing since start. O(1).

        The second rule is the one the tender routes had when they built the service on
        their first use, kept as it was: a stopping node refuses a first tender request
        (503, as :attr:`svc` refuses every auction request), but a service already in use
        goes on serving until the pool closes. The shutdown does not wait for those
        requests (a tender command runs in its request's task, not in a runner), only
        for the ones under an ``Idempotency-Key`` (the idempotency store's drain).
        """
        if self.tenders is None or (self.closing and not self._tenders_served):
            raise NotReady("the server is not ready")
        self._tenders_served = True
        return self.tenders

    async def id_kind(self, some_id: str) -> IdKind | None:
        """``"auction"`` or ``"tender"`` if ``some_id`` names one, else ``None``.

        A token's ``auction`` claim names an auction or a tender, so creating either
        refuses an id the other kind has (:mod:`api.access.rules`). Not atomic with the create
        that follows: only unbound officers create, and they may act on both anyway.
        One query on two primary keys (:func:`api.storage.ids.id_kind`); :class:`NotReady`
        while starting or stopping.
        """
        self.svc  # noqa: B018 - NotReady while starting or stopping
        assert self.pool is not None
        return await id_kind(self.pool, some_id)

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Storage up, migrations applied, revocations loaded, the tender service built,
        auctions recovered; ready.

        A database that cannot be reached is waited for: the storage steps are retried
        from the pool on, after a pause doubling from 0.5 s to 5 s, with one log line per
        attempt naming the database (never its password), ``/readyz`` 503 meanwhile.
        Past ``settings.db_wait_s`` seconds (if set) it raises
        :class:`DatabaseUnreachable`, logged in one line naming ``DATABASE_URL``; so does
        a ``DATABASE_URL`` that cannot be parsed, at once. An embedded database that does
        not start is not waited for (its error propagates). Whatever a failed attempt
        opened is closed again, so a cancelled or failed start holds nothing.
        With ``settings.demo``, the demo auction is seeded and its welcome printed before
        the node is ready.
        """
        settings = self.settings
        dsn = settings.database_url
        if dsn is None:
            loop = asyncio.get_running_loop()
            data = Path(settings.data_dir) / "postgres"
            self.embedded = await loop.run_in_executor(None, start_embedded, data)
            dsn = self.embedded.dsn
        backoff = Backoff()
        wait_s = settings.db_wait_s
        deadline = None if wait_s is None else time.monotonic() + wait_s
        attempt = 0
        while True:
            attempt += 1
            try:
                recovered = await self._open_storage(dsn)
                break
            except ValueError as error:  # asyncpg's verdict on a malformed DSN
                await self._close_storage()
                raise DatabaseUnreachable(
                    f"DATABASE_URL {redact_dsn(dsn)} is not a usable PostgreSQL URL:"
                    f" {scrub_dsn_secrets(str(error), dsn)}"
                ) from None
            except CONNECT_ERRORS as error:
                await self._close_storage()
                if self.embedded is not None:
                    raise
                delay = backoff.next()
                if deadline is not None:
                    delay = min(delay, deadline - time.monotonic())
                    if delay <= 0:
                        raise DatabaseUnreachable(
                            f"DATABASE_URL {redact_dsn(dsn)} could not be reached in"
                            f" {wait_s:g} s (GAVEL_DB_WAIT_S), {attempt} attempts; last:"
                            f" {error_line(error)}"
                        ) from None
                self.waiting = f"waiting for the database (attempt {attempt} failed)"
                log.warning(
                    "waiting for the database at %s (attempt %d): %s; next attempt in %.1f s",
                    describe_dsn(dsn),
                    attempt,
                    error_line(error),
                    delay,
                    extra={"attempt": attempt, "database": describe_dsn(dsn)},
                )
                await asyncio.sleep(delay)
            except BaseException:
                await self._close_storage()
                raise
        self.waiting = None
        assert self.service is not None
        self.service.start_sweeper()
        self._purger = asyncio.create_task(self._purge_keys(), name="gavel-purge-keys")
        # Everything loaded so far lives for the whole run: keep it out of collections.
        gc.freeze()
        log.info(
            "ready",
            extra={
                "recovered": recovered,
                "embedded": self.embedded is not None,
                "attempts": attempt,
            },
        )
        demo = None
        if settings.demo:
            assert self.pool is not None  # the storage is up: start() got this far
            invitations = PostgresInvitationStore(self.pool)
            demo = await seed_demo(self.svc, self.credentials, settings, invitations)
            await self.credentials.record_tokens()
            print(demo.welcome, flush=True)
        # Ready only once the demo's tokens are recorded and printed: a client that
        # waits for /readyz may use them at once.
        self.ready = True
        if demo is not None:
            # The demo's simulated opponent bids over a websocket to this server (api.demo).
            self._demo_opponents = demo.start_opponents()

    async def _open_storage(self, dsn: str) -> int:
        """One attempt at the storage steps of :meth:`start`; the auctions recovered."""
        settings = self.settings
        self.pool = pool = await create_pool(dsn, min_size=2, max_size=10)
        async with pool.acquire() as conn:
            await migrate(conn)
        self.writer = GroupCommitWriter(
            pool,
            mode="single" if settings.commit_mode == "single" else "group",
            window_us=settings.commit_window_us,
        )
        await self.writer.start()
        self.idempotency = self._answers(PostgresIdempotencyKeys(pool))
        tokens = self.credentials.tokens = PostgresTokenStore(pool)
        # Listening first, then loading the list (the listener's first on_connect): a
        # revocation committed in between is heard, not lost.
        self.listener = keep_current(self.revoked, tokens, dsn, name="core revocations")
        await self.listener.start()
        store = PostgresEventStore(pool)
        if settings.clustered:
            await self._join_cluster(store, pool, dsn)
        # A commit cut at COMMIT is answered as the auctions' are (api.auctions.runner):
        # after its fate is learned, within the same GAVEL_OUTCOME_WAIT_S. In a cluster
        # each tender runs at its lease holder (api.cluster.tender_ownership).
        self.tenders = TenderService(
            PostgresTenderStore(pool),
            self.key,
            observers=self.tender_observers,
            outcome_wait_s=settings.outcome_wait_s,
            closing=lambda: self.closing,
            owners=self.tender_ownership,
        )
        self.service = Service(
            store,
            self.writer,
            self.hub,
            queue_limit=settings.runner_queue,
            idle_s=settings.runner_idle_s,
            max_backlog=settings.writer_backlog,
            observers=self.observers,
            snapshot_every=settings.snapshot_every,
            outcome_wait_s=settings.outcome_wait_s,
            owners=self.ownership,
        )
        recovered = await self.service.recover()
        if self.ownership is not None:
            self.ownership.service = self.service
            await self.ownership.start()
            # The first round now: a node that starts takes its share before it is ready.
            await self.ownership.round()
            recovered = len(self.service.runners)
        if self.tender_ownership is not None:
            await self.tender_ownership.start()
        return recovered

    async def _join_cluster(self, store: PostgresEventStore, pool: asyncpg.Pool, dsn: str) -> None:
        """Connect to NATS and build the leases and forwarding (``NATS_URL`` set).

        Commits of auctions this node owns go out on the bus (an observer of the
        service, in commit order through one task); commits of the others come in and
        feed their channels here gaplessly (:class:`~api.live.edge.EdgeService`: caught
        up from the log after a gap or a reconnection)."""
        settings = self.settings
        assert settings.nats_url is not None
        self._cluster_left = False
        follower = self.follower = EdgeService(store, self.hub)

        async def reconnected() -> None:
            follower.resync_all()

        self.bus = bus = await Bus.connect(
            settings.nats_url,
            name=f"gavel {self.node_id}",
            on_reconnect=reconnected,
            root=settings.cluster_name,
        )

        def arrived(auction_id: str, payloads: list[bytes]) -> None:
            service = self.service
            if auction_id not in self.hub.channels or (
                service is not None and auction_id in service.runners
            ):
                return  # not followed here, or ours (the runner published it already)
            try:
                events = [decode_event(payload) for payload in payloads]
            except Exception as error:  # noqa: BLE001 - a peer's bug: the log is the truth
                log.warning(
                    "undecodable commit on NATS: catching up from the log",
                    extra={"auction": auction_id, "error": repr(error)},
                )
                follower.resync_all()
                return
            follower.fed(auction_id, events)

        async def dropped() -> None:
            follower.resync_all()

        def noted(auction_id: str, note: bytes) -> None:
            # A checkpoint the owner issued: to this node's watchers of the auction, after
            # the events it covers (caught up from the log first if they are not here yet).
            channel = self.hub.channels.get(auction_id)
            service = self.service
            if channel is None or (service is not None and auction_id in service.runners):
                return
            data = json.loads(note)
            if int(data["size"]) <= channel.head:
                follower.checkpoint(auction_id, data)
                return

            async def after_catching_up() -> None:
                with contextlib.suppress(Exception):  # logged by the follower
                    await follower.catch_up(auction_id)
                follower.checkpoint(auction_id, data)

            task = asyncio.ensure_future(after_catching_up())
            self._noting.add(task)
            task.add_done_callback(self._noting.discard)

        await bus.subscribe_events("a", arrived, on_gap=dropped, on_note=noted)

        def issued(auction_id: str, note: str, size: int, root: bytes) -> None:
            # This node's checkpoint of an auction it owns: to every other node's watchers.
            checkpoint = {"note": note, "size": size, "root": root.hex()}
            outbound.put_nowait((auction_id, [], json.dumps(checkpoint).encode()))

        self.checkpoint_listeners.append(issued)
        self._unhook.append(lambda: self.checkpoint_listeners.remove(issued))
        self._reconciler = asyncio.create_task(
            self._reconcile_forever(pool, follower), name="gavel-follow-reconcile"
        )

        async def fill(auction_id: str, events: list[Event]) -> None:
            channel = self.hub.channels.get(auction_id)
            if channel is None or not events or channel.head >= events[-1].seq:
                return
            follower.fed(auction_id, events)
            if channel.head < events[-1].seq:
                await follower.catch_up(auction_id)

        lease_pool = await create_pool(dsn, min_size=1, max_size=LEASE_POOL_SIZE)
        self._lease_pools.append(lease_pool)
        beat_pool = await create_pool(dsn, min_size=1, max_size=1)
        self._lease_pools.append(beat_pool)
        self.ownership = Ownership(
            PostgresLeaseStore(lease_pool),
            bus,
            beat_leases=PostgresLeaseStore(beat_pool),
            node_id=self.incarnation,
            url=settings.node_url or settings.base_url,
            ttl_s=settings.lease_ttl_s,
            renew_s=settings.lease_renew_s,
            follow=follower.prepare,
            fill=fill,
        )

        async def serve_tender_call(payload: bytes) -> bytes:
            tenders = self.tenders
            if tenders is None or self.closing:
                return remote_tenders.encode_error(NotOwner(f"node {self.node_id} is stopping"))
            return await remote_tenders.serve_call(tenders, payload)

        def tender_idle(tender_id: str, idle_s: float) -> bool:
            return self.tenders is None or self.tenders.idle(tender_id, idle_s)

        self.tender_ownership = TenderOwnership(
            PostgresLeaseStore(lease_pool),
            bus,
            beat_leases=PostgresLeaseStore(beat_pool),
            node_id=self.incarnation,
            ttl_s=settings.lease_ttl_s,
            renew_s=settings.lease_renew_s,
            serve=serve_tender_call,
            idle=tender_idle,
        )
        outbound = self._outbound = asyncio.Queue()

        def committed(auction_id: str, events: list[Event]) -> None:
            outbound.put_nowait((auction_id, [encode_event(event) for event in events], None))

        self.observers.append(committed)
        self._unhook.append(lambda: self.observers.remove(committed))

        async def publish_forever() -> None:
            while True:
                auction_id, payloads, note = await outbound.get()
                try:
                    if note is not None:
                        await bus.publish_note("a", auction_id, note)
                    else:
                        await bus.publish_events("a", auction_id, payloads)
                except Exception as error:  # noqa: BLE001 - followers catch up from the log
                    log.warning("publishing a commit on NATS failed", extra={"error": repr(error)})

        self._publisher = asyncio.create_task(publish_forever(), name="gavel-bus-publisher")

    async def _close_storage(self) -> None:
        """Close what a failed :meth:`_open_storage` opened (each step may be missing)."""
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(Exception):
                await service.close()
        await self._leave_cluster()
        self.tenders, self._tenders_served = None, False
        listener, self.listener = self.listener, None
        if listener is not None:
            await listener.stop()
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.close()
        self.idempotency = None
        self.credentials.tokens = None
        pool, self.pool = self.pool, None
        if pool is not None:
            # terminate, not close: close() waits on connections to a server that is gone.
            pool.terminate()

    async def _reconcile_forever(self, pool: asyncpg.Pool, follower: EdgeService) -> None:
        """Every :data:`RECONCILE_EVERY_S`: catch up from the log each followed channel
        (an auction another node owns, watched here) whose head is behind the log.

        Gaps show when the next commit arrives; this finds the commits after which none
        came (a message NATS dropped for a slow subscriber, or lost in a reconnection):
        an auction's last event, say its close, must not stay missing. One query per
        round over the followed auctions (an index probe each)."""
        suspects: dict[str, int] = {}
        while True:
            await asyncio.sleep(RECONCILE_EVERY_S)
            service = self.service
            followed = {
                auction_id: channel.head
                for auction_id, channel in list(self.hub.channels.items())
                if channel.subscribers
                and channel.head > 0
                and (service is None or auction_id not in service.runners)
            }
            if not followed:
                continue
            try:
                async with pool.acquire() as conn:
                    last = await fetch_last_seqs(conn, followed)
            except Exception as error:  # noqa: BLE001 - the database is down: next round
                log.warning("reconciling followed auctions failed", extra={"error": repr(error)})
                continue
            # Behind twice in a row at the same head: not a commit still on its way.
            behind = {a: h for a, h in followed.items() if h < last.get(a, 0)}
            stuck = [a for a, h in behind.items() if suspects.get(a) == h]
            suspects = behind
            for auction_id in stuck:
                log.warning(
                    "a followed auction was behind its log: catching up",
                    extra={"auction": auction_id, "head": behind[auction_id]},
                )
                with contextlib.suppress(Exception):  # logged by the follower; next round
                    await follower.catch_up(auction_id)

    async def _leave_cluster(self) -> None:
        """Release this node's leases (its runners are stopped), stop the loop, flush
        what is still to go out on NATS, and close the connection. Idempotent."""
        if self._cluster_left:
            return
        self._cluster_left = True
        for unhook in self._unhook:
            with contextlib.suppress(ValueError):
                unhook()
        self._unhook.clear()
        # The ownership and the bus stay referenced: /metrics reads their figures.
        ownership = self.ownership
        if ownership is not None:
            await ownership.drain()
            await ownership.stop()
        tender_ownership = self.tender_ownership
        if tender_ownership is not None:
            await tender_ownership.drain()
            await tender_ownership.stop()
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            outbound = self._outbound
            deadline = time.monotonic() + 1.0
            while outbound is not None and not outbound.empty() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            publisher.cancel()
            with contextlib.suppress(BaseException):
                await publisher
        reconciler, self._reconciler = self._reconciler, None
        if reconciler is not None:
            reconciler.cancel()
            with contextlib.suppress(BaseException):
                await reconciler
        follower, self.follower = self.follower, None
        if follower is not None:
            await follower.close()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await self.bus.close()
        pools, self._lease_pools = self._lease_pools, []
        for lease_pool in pools:
            try:
                await asyncio.wait_for(lease_pool.close(), 5)
            except BaseException:  # noqa: BLE001 - a server gone: do not wait on it
                lease_pool.terminate()

    def begin(self, on_failure: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run :meth:`start` in the background (the server answers ``/healthz`` and 503s
        meanwhile); if it fails, log one line and await ``on_failure()`` (which stops
        the server). Call once, with the server running."""

        async def starting() -> None:
            try:
                await self.start()
                return
            except DatabaseUnreachable as error:
                log.error("%s; exiting", error)
            except EmbeddedPostgresError as error:
                log.error("the embedded PostgreSQL did not start; exiting: %s", error)
            except Exception:  # noqa: BLE001 - a bug: say what it was, then stop
                log.exception("start-up failed; exiting")
            # In a task of its own: stopping awaits this task's end.
            asyncio.get_running_loop().create_task(on_failure())

        self._starting = asyncio.create_task(starting(), name="gavel-start")

    async def _purge_keys(self) -> None:
        """Delete expired idempotency keys (and the answers stored with them) now and
        every :data:`PURGE_EVERY_S`; a failure is logged and retried next time."""
        while self.idempotency is not None:
            try:
                purged = await self.idempotency.purge_expired()
                if purged:
                    log.info("expired idempotency keys purged", extra={"purged": purged})
            except Exception as error:  # noqa: BLE001 - storage down: try again later
                log.warning("purging idempotency keys failed", extra={"error": repr(error)})
            await asyncio.sleep(PURGE_EVERY_S)

    async def stop(self) -> None:
        """Graceful shutdown (see :meth:`_stop`); once: later calls wait for the first.
        A caller that is cancelled does not cancel the shutdown."""
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        """Graceful shutdown: refuse new work, finish and commit what is queued, send
        its answers, close the sockets with 1001, run :attr:`on_stop`, then close the
        writer, the pool and the embedded database. The tender service holds no task to
        stop: see :attr:`tender_svc` for what it answers meanwhile.

        The sockets stop being read at once: a request already read is run (or
        refused ``unavailable`` once its runner stopped) and answered before its socket
        hears ``going away``; one not read yet is not run, and the client re-sends it
        after reconnecting. So no committed bid goes unacknowledged. New HTTP commands
        are refused with 503.
        """
        self.closing = True
        self.ready = False
        opponents = self._demo_opponents
        if opponents is not None:
            opponents.cancel()
            with contextlib.suppress(BaseException):
                await opponents
        starting = self._starting
        if starting is not None and not starting.done():
            # Still waiting for the database: stop waiting (it closes what it opened).
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        for ws in list(self.sockets):
            stop_reading(ws)
        if self.listener is not None:
            await self.listener.stop()
        if self.idempotency is not None:
            await self.idempotency.drain()
        if self.service is not None:
            await self.service.close()
        # Every runner here has committed what it had: let other nodes take over now.
        await self._leave_cluster()
        # The answers are written straight to the sockets that keep up; the others'
        # writer tasks get a moment to drain their outboxes (the budget starts now,
        # however long the runners took to finish). Then 1001, behind them.
        deadline = time.monotonic() + CLOSE_WAIT_S
        if not await self.hub.flushed(deadline):
            log.warning(
                "shutdown: some sockets still owed frames after %.1f s; closing them anyway",
                CLOSE_WAIT_S,
            )
        await close_going_away(self.sockets, deadline)
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(BaseException):
                await self._purger
        for hook in self.on_stop:
            try:
                await hook()
            except Exception:  # noqa: BLE001 - the rest of the shutdown must still run
                log.exception("shutdown hook failed")
        if self.writer is not None:
            await self.writer.close()
        if self.pool is not None:
            await self.pool.close()
        if self.embedded is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.embedded.stop)
