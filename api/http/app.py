"""The Sanic application: HTTP JSON under ``/api/v1``, websockets under ``/ws/v1``.

``create_app(settings)`` builds the app; its listeners run the start-up order of
:mod:`api.storage` (embedded PostgreSQL when ``DATABASE_URL`` is unset, pool, migrations,
group-commit writer, recovery of every auction that is not ended) and the graceful
shutdown (refuse new work, close sockets with 1001 "going away", finish every queued
command, flush the writer, close the pool, stop the embedded server).

Every route checks its token (:mod:`api.access.auth`), its rate limits (per token and per
address) and its body (:func:`api.http.problems.parse_body`); errors are RFC 9457 problem
details with a machine-readable ``code``; an engine rejection carries the engine's
reason. Commands go through :class:`~api.auctions.service.Service`, so every answer is given
only once its events are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, html
from sanic.response import json as json_response
from sanic.response import text as text_response

from api.access import auth
from api.access import rules as access
from api.access.at_rest import AtRest, SealBroken
from api.access.ratelimit import TokenBucketLimiter, address_key
from api.access.revocations import Revocations, keep_current
from api.auctions.outcomes import new_command_id, outcome
from api.auctions.runner import (
    OutcomeUnknown,
    RunnerOverloaded,
    RunnerStopped,
    StorageUnavailable,
    WriterBacklogged,
)
from api.auctions.service import AuctionExists, Service, UnknownAuction, format_name
from api.auctions.state import public_state, standing
from api.auctions.views import Audience
from api.http.idempotency import (
    IdempotencyStore,
    StoredResponse,
    current_mark,
    current_slot,
    fingerprint,
    parse_key,
    to_http,
)
from api.http.metrics import Metrics
from api.http.openapi import DOCS_HTML, openapi_document
from api.http.problems import (
    Code,
    Problem,
    ProblemError,
    parse_body,
    parse_object,
    parse_rules,
    problem,
    problem_from_reason,
    query_int,
    require_json,
)
from api.http.problems import to_response as problem_response
from api.http.webapp import App, route_name, websocket_route
from api.live.hub import Hub
from api.live.ws import (
    CLOSE_WAIT_S,
    SHUTDOWN_TIMEOUT_S,
    check_handshake,
    close_going_away,
    handshake_claims,
    handshake_limits,
    leave,
    serve_session,
    stop_reading,
)
from api.settings import Settings
from api.storage import (
    CommandMark,
    EmbeddedPostgres,
    GroupCommitWriter,
    PostgresEventStore,
    create_pool,
    migrate,
    start_embedded,
)
from api.storage.errors import EmbeddedPostgresError
from api.storage.idempotency import PostgresIdempotencyKeys
from api.storage.listener import (
    CONNECT_ERRORS,
    Backoff,
    HeldListener,
    describe_dsn,
    error_line,
    redact_dsn,
)
from api.storage.tokens import TokenRow, TokenStore
from contracts import http as bodies
from contracts.messages import CLOSE_BAD_ORIGIN, CLOSE_GOING_AWAY, PROTOCOL
from contracts.rules_json import rules_to_json
from engine import (
    AcceptPrice,
    BidAccepted,
    CancelAuction,
    Command,
    CommandRejected,
    DisqualifyBidder,
    Event,
    PassTurn,
    PlaceBid,
    RegisterBidder,
    SetProxy,
    WithdrawBid,
)
from engine.codec import to_data
from engine.reasons import Reason

__all__ = ["Gavel", "create_app"]

log = logging.getLogger("gavel.app")

_APP_NAMES = itertools.count(1)
#: Commands whose results the bid metrics count (by type name, as CommandRejected has it).
_BID_COMMANDS = frozenset({PlaceBid.__name__, SetProxy.__name__, AcceptPrice.__name__})
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


#: Which kind of log an id names (Gavel.id_kind): both tables are keyed by it first.
_ID_KIND = """
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM events WHERE auction_id = $1) THEN 'auction'
    WHEN EXISTS (SELECT 1 FROM tender_events WHERE tender_id = $1) THEN 'tender'
END
"""

#: How often expired idempotency keys are deleted (also once at start-up).
PURGE_EVERY_S = 3600.0


class DatabaseUnreachable(Exception):
    """Start-up gave up on the database (``GAVEL_DB_WAIT_S`` passed, or a ``DATABASE_URL``
    that is no PostgreSQL URL); the message is the one line to log, password left out."""


class Gavel:
    """Everything the routes share, kept on ``app.ctx.gavel``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub()
        self.metrics = Metrics()
        key = (
            auth.signing_key_from_env({"GAVEL_SIGNING_KEY": settings.signing_key_pem})
            if settings.signing_key_pem
            else auth.load_or_create_signing_key(Path(settings.data_dir) / "signing-key.pem")
        )
        # Never None: the variable handed to signing_key_from_env is set and non-empty.
        assert key is not None
        self.key: Ed25519PrivateKey = key
        self.public_key = self.key.public_key()
        self.at_rest = AtRest(self.key)
        self.by_token = TokenBucketLimiter(rate=settings.rate_per_s, burst=settings.rate_burst)
        self.by_address = TokenBucketLimiter(
            rate=settings.rate_per_s * 4, burst=settings.rate_burst * 4
        )
        self.embedded: EmbeddedPostgres | None = None
        self.pool: Any = None
        self.writer: GroupCommitWriter | None = None
        self.service: Service | None = None
        #: Given to the service: called after each commit (see Service.observers).
        self.observers: list[Callable[[str, list[Event]], None]] = []
        #: The auctions' audit trail calls each as ``(auction_id, note, size, root)``
        #: when it has issued a checkpoint (see AuditTrail.listeners).
        self.checkpoint_listeners: list[Callable[[str, str, int, bytes], None]] = []
        self.idempotency: IdempotencyStore | None = None
        self.ready = False
        self.closing = False
        self.sockets: set[Any] = set()
        self.tokens: TokenStore | None = None
        #: Every revoked token not yet expired: checked on every request and handshake,
        #: so it is a dict lookup, never a query; and the sockets to close on revocation.
        self.revoked = Revocations()
        self._unrecorded: list[TokenRow] = []
        #: Keeps :attr:`revoked` current from other processes' revocations (started
        #: with the storage; see :func:`api.access.revocations.keep_current`).
        self.listener: HeldListener | None = None
        #: While start-up waits for the database: what the last attempt said (for
        #: ``/readyz``); ``None`` otherwise.
        self.waiting: str | None = None
        #: The start-up task (:meth:`begin`), which :meth:`stop` cancels if still running.
        self._starting: asyncio.Task[None] | None = None
        #: Awaited by :meth:`stop` once the runners are done (every commit made and
        #: observed), before the writer and the pool close: the audit trail drains its
        #: checkpoints here.
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        self._stop_task: asyncio.Future[None] | None = None
        self._purger: asyncio.Task[None] | None = None

    # -- credentials -------------------------------------------------------------

    def issue(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None = None
    ) -> str:
        """A signed token for ``sub`` as ``role``; its ``tokens`` row is queued.

        The row is written by the next :meth:`record_tokens` (which
        :meth:`issue_recorded` and start-up's demo call): hand a token out only after
        that, so that it can be revoked.
        """
        token, row = self._mint(sub, role, auction, ttl_s)
        self._unrecorded.append(row)
        return token

    def _mint(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None
    ) -> tuple[str, TokenRow]:
        now_s = int(time.time())
        ttl = ttl_s or self.settings.token_ttl_s
        jti = auth.new_jti()
        token = auth.issue(
            self.key, sub=sub, role=role, auction=auction, ttl_s=ttl, now_s=now_s, jti=jti
        )
        row = TokenRow(jti, sub, role.value, auction, now_s * 1_000_000, (now_s + ttl) * 1_000_000)
        return token, row

    async def record_tokens(self) -> None:
        """Write the ``tokens`` rows of every token issued since the last call."""
        if self.tokens is None:
            return  # not started: kept for the first call after start-up
        rows, self._unrecorded = self._unrecorded, []
        if rows:
            try:
                await self.tokens.record(rows)
            except BaseException:
                self._unrecorded[:0] = rows
                raise

    async def issue_recorded(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None = None
    ) -> tuple[str, str]:
        """A token and its jti, its row written: the token may be handed out."""
        token, row = self._mint(sub, role, auction, ttl_s)
        if self.tokens is not None:
            await self.tokens.record([row])
        return token, row.jti

    async def mint(self, sub: str, grant: access.Grant) -> tuple[str, str, int]:
        """A token for ``sub`` as a caller's checked ``grant`` allows (see
        :func:`api.access.rules.grant`), its row written; with its jti and lifetime in s."""
        ttl = grant.lifetime(int(time.time()))
        token, jti = await self.issue_recorded(sub, grant.role, grant.auction, ttl)
        return token, jti, ttl

    async def id_kind(self, some_id: str) -> str | None:
        """``"auction"`` or ``"tender"`` if ``some_id`` names one, else ``None``.

        A token's ``auction`` claim names an auction or a tender, so creating either
        refuses an id the other kind has (:mod:`api.access.rules`). Not atomic with the create
        that follows: only unbound officers create, and they may act on both anyway.
        One query on two primary keys; 503 while starting or stopping.
        """
        self.svc  # noqa: B018 - 503 while starting or stopping
        kind: str | None = await self.pool.fetchval(_ID_KIND, some_id)
        return kind

    def verify_token(self, token: str | None) -> auth.Claims:
        """The claims of a valid token that is not revoked; else an ``AccessDenied``.

        What every HTTP route and the websocket handshake check. O(token length).
        """
        claims = auth.verify(self.public_key, token, now_s=time.time())
        if claims.jti in self.revoked:
            raise auth.TokenRevoked("the token was revoked")
        return claims

    def claims(
        self, request: Request, target: str | None = None, *, bind: bool = True
    ) -> auth.Claims:
        """Verify the request's bearer token, rate-limit it, and check it against the
        route's rule in :data:`api.access.rules.ROUTES` (found by the route's name): its role,
        then its binding with ``target``, the auction or tender the request acts on.

        ``bind=False`` leaves the binding to the route, which learns its target later
        (``POST /tokens``: the new token's auction, checked by :func:`api.access.rules.grant`).
        """
        rule = access.rule_for(route_name(request))
        self.limit_address(request)
        token = auth.bearer_token(request.headers.get("authorization"))
        claims = self.verify_token(token)
        self.limit(self.by_token, claims.jti)
        rule.admit(claims)
        return rule.bind(claims, target) if bind else claims

    # -- revocation ----------------------------------------------------------------

    async def revoke(self, jti: str, by: auth.Claims) -> TokenRow:
        """Revoke token ``jti`` on behalf of ``by``; durable before it returns.

        ``by`` may revoke its own token; another's, as :data:`api.access.rules.REVOKE_OTHERS`
        says (an officer, of the revoked token's auction or of none). Raises 404
        ``not_found`` for a jti never issued by this server, 403 otherwise refused.
        """
        assert self.tokens is not None
        if jti != by.jti:
            access.REVOKE_OTHERS.admit(by)  # role first: a bidder learns nothing of jtis
        row = await self.tokens.get(jti)
        if row is None:
            raise ProblemError(problem(Code.NOT_FOUND, "no token with this id was issued"))
        if jti != by.jti:
            # A token not bound to an auction (row None) is beyond any bound officer.
            access.REVOKE_OTHERS.bind(by, row.auction_id)
        now = time.time_ns() // 1000
        revoked = await self.tokens.revoke(jti, at=now, by=by.sub)
        assert revoked is not None
        self.revoked.add(jti, now, revoked.expires_at)
        return revoked

    def limit_address(self, request: Request) -> None:
        """Raise a 429 problem when the request's address is over its rate (IPv6
        addresses count per /64: see :func:`~api.access.ratelimit.address_key`)."""
        self.limit(self.by_address, address_key(request.client_ip or "?"))

    def limit(self, limiter: TokenBucketLimiter, key: str) -> None:
        """Raise a 429 problem when ``key`` is over its rate."""
        retry = limiter.check(key, time.monotonic())
        if retry is not None:
            raise ProblemError(
                problem(
                    Code.RATE_LIMITED,
                    "too many requests; slow down",
                    retry_after=max(1, int(retry + 0.999)),
                )
            )

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Storage up, migrations applied, revocations loaded, auctions recovered; ready.

        A database that cannot be reached is waited for: the storage steps are retried
        from the pool on, after a pause doubling from 0.5 s to 5 s, with one log line per
        attempt naming the database (never its password), ``/readyz`` 503 meanwhile.
        Past ``settings.db_wait_s`` seconds (if set) it raises
        :class:`DatabaseUnreachable`, logged in one line naming ``DATABASE_URL``; so does
        a ``DATABASE_URL`` that cannot be parsed, at once. An embedded database that does
        not start is not waited for (its error propagates). Whatever a failed attempt
        opened is closed again, so a cancelled or failed start holds nothing.
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
                    f"DATABASE_URL {redact_dsn(dsn)} is not a usable PostgreSQL URL: {error}"
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
        if settings.demo:
            from api.demo import seed_demo

            welcome = await seed_demo(self)
            await self.record_tokens()
            print(welcome, flush=True)
        # Ready only once the demo's tokens are recorded and printed: a client that
        # waits for /readyz may use them at once.
        self.ready = True

    async def _open_storage(self, dsn: str) -> int:
        """One attempt at the storage steps of :meth:`start`; the auctions recovered."""
        settings = self.settings
        self.pool = await create_pool(dsn, min_size=2, max_size=10)
        async with self.pool.acquire() as conn:
            await migrate(conn)
        self.writer = GroupCommitWriter(
            self.pool,
            mode="single" if settings.commit_mode == "single" else "group",
            window_us=settings.commit_window_us,
        )
        await self.writer.start()
        self.idempotency = IdempotencyStore(PostgresIdempotencyKeys(self.pool))
        self.tokens = TokenStore(self.pool)
        # Listening first, then loading the list (the listener's first on_connect): a
        # revocation committed in between is heard, not lost.
        self.listener = keep_current(self.revoked, self.tokens, dsn, name="core revocations")
        await self.listener.start()
        store = PostgresEventStore(self.pool)
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
        )
        return await self.service.recover()

    async def _close_storage(self) -> None:
        """Close what a failed :meth:`_open_storage` opened (each step may be missing)."""
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(Exception):
                await service.close()
        listener, self.listener = self.listener, None
        if listener is not None:
            await listener.stop()
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.close()
        self.idempotency = None
        self.tokens = None
        pool, self.pool = self.pool, None
        if pool is not None:
            # terminate, not close: close() waits on connections to a server that is gone.
            pool.terminate()

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
        writer, the pool and the embedded database.

        The sockets stop being read at once: a request already read is run (or
        refused ``unavailable`` once its runner stopped) and answered before its socket
        hears ``going away``; one not read yet is not run, and the client re-sends it
        after reconnecting. So no committed bid goes unacknowledged. New HTTP commands
        are refused with 503.
        """
        self.closing = True
        self.ready = False
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

    @property
    def svc(self) -> Service:
        """The service; 503 while starting or stopping."""
        if self.service is None or self.closing:
            raise ProblemError(
                problem(Code.SHUTTING_DOWN, "the server is not ready", retry_after=1)
            )
        return self.service

    # -- commands ------------------------------------------------------------------

    async def respond(
        self,
        request: Request,
        claims: auth.Claims,
        work: Callable[[], Awaitable[Answer]],
    ) -> HTTPResponse:
        """Answer a command, at most once per ``Idempotency-Key`` (scoped to the party).

        Without the header the command simply runs. With it, a retry with the same body
        gets the stored answer, headers included (``Idempotent-Replayed: true``),
        another body gets 422 ``idempotency_key_reused``, and two racing requests run
        the command once. ``work`` returns ``(status, body)`` or ``(status, body,
        headers)``.
        """
        key = parse_key(request.headers.get("idempotency-key"))
        if key is None or self.idempotency is None:
            status, body, headers = _answer(await work())
            return json_response(body, status=status, headers=headers)

        async def handler() -> StoredResponse:
            status, body, headers = _answer(await work())
            # A credential in the answer is stored sealed (api.access.at_rest), never in clear.
            return StoredResponse(
                status,
                json.dumps(self.at_rest.seal_fields(body), separators=(",", ":")).encode(),
                tuple(headers.items()),
            )

        target = request.path + (f"?{request.query_string}" if request.query_string else "")
        response, replayed = await self.idempotency.run(
            claims.sub, key, fingerprint(request.method, target, request.body), handler
        )
        try:
            opened = replace(response, body=self.at_rest.open_fields(response.body))
        except SealBroken:
            raise ProblemError(
                problem(
                    Code.IDEMPOTENCY_KEY_REUSED,
                    "the stored answer for this key cannot be opened with the current "
                    "signing key; retry with a new Idempotency-Key",
                )
            ) from None
        return to_http(opened, replayed=replayed)

    async def run(
        self, auction_id: str, make: Callable[[str, int], Command], *, prefix: str
    ) -> tuple[Any, Any]:
        """Run a command; answer with its own event, or raise the problem it caused.

        Under an ``Idempotency-Key`` (:func:`~api.http.idempotency.current_slot`) the command
        runs under the reservation's command id and its events commit with a mark of
        the reservation; if a previous, dead owner of the reservation had committed
        them already, they are read back and answered instead of running it again.
        """
        slot = current_slot()
        command_id = f"{prefix}-{slot.command_id}" if slot else new_command_id(prefix)
        try:
            events = await _once(
                self.svc,
                lambda mark: self.svc.submit(auction_id, lambda at: make(command_id, at), mark),
            )
        except UnknownAuction:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}")) from None
        except RunnerOverloaded as error:
            raise ProblemError(overloaded(error)) from None
        except RunnerStopped:
            raise ProblemError(
                problem(Code.SHUTTING_DOWN, "the auction is not taking commands", retry_after=1)
            ) from None
        except StorageUnavailable as error:
            # "not committed": certainly not stored. (An OutcomeUnknown, which is no
            # refusal, goes to its own handler: 503 outcome_unknown.)
            raise ProblemError(
                problem(Code.STORAGE_UNAVAILABLE, str(error), retry_after=1)
            ) from None
        result = outcome(events, command_id)
        if result.rejected is not None:
            rejected = result.rejected
            if rejected.command in _BID_COMMANDS:
                self.metrics.count_result(False, rejected.reason.value)
            raise ProblemError(
                problem_from_reason(
                    rejected.reason,
                    rejected.detail or rejected.reason.value.replace("_", " "),
                    extra={"seq": rejected.seq, "server_time": rejected.at},
                )
            )
        return result.accepted, events


#: What a command's ``work`` returns: ``(status, body)`` or ``(status, body, headers)``.
Answer = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


def _answer(answer: Answer) -> tuple[int, dict[str, Any], dict[str, str]]:
    if len(answer) == 2:
        return answer[0], answer[1], {}
    return answer


def overloaded(error: RunnerOverloaded) -> Problem:
    """503 ``overloaded``: the auction's queue is full or the writer is backlogged.

    Refused at once, before any work, so a client retries after ``Retry-After`` instead
    of waiting behind a queue that would time it out.
    """
    what = (
        "the server is writing a backlog"
        if isinstance(error, WriterBacklogged)
        else "this auction has too many commands waiting"
    )
    return problem(Code.OVERLOADED, f"{what}; retry shortly", retry_after=1)


def _service_gauges(gavel: Gavel) -> str:
    """Prometheus lines for the limits this module enforces: the writer's backlog (what
    load shedding compares with ``GAVEL_WRITER_BACKLOG``), the runners in memory and
    evicted, the snapshots stored and used, the revoked tokens held in memory."""
    service, writer = gavel.service, gavel.writer
    gauges = [
        (
            "gavel_writer_pending_events",
            "gauge",
            "Events waiting for the group-commit writer.",
            writer.pending_events if writer else 0,
        ),
        (
            "gavel_runners_loaded",
            "gauge",
            "Auctions with a runner in memory.",
            len(service.runners) if service else 0,
        ),
        (
            "gavel_runners_evicted_total",
            "counter",
            "Idle ended auctions dropped from memory.",
            service.evicted if service else 0,
        ),
        (
            "gavel_snapshots_saved_total",
            "counter",
            "Auction snapshots stored (every GAVEL_SNAPSHOT_EVERY committed events).",
            service.snapshots_saved if service else 0,
        ),
        (
            "gavel_auctions_restored_from_snapshot_total",
            "counter",
            "Auctions loaded from a snapshot plus the events after it.",
            service.restored_from_snapshot if service else 0,
        ),
        (
            "gavel_tokens_revoked",
            "gauge",
            "Revoked, unexpired tokens held in memory.",
            len(gavel.revoked),
        ),
    ]
    lines = []
    for name, kind, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return "\n".join(lines) + "\n"


async def _once(
    svc: Service, run: Callable[[CommandMark | None], Awaitable[list[Event]]]
) -> list[Event]:
    """``run(mark)`` under the running request's idempotency reservation; or, when a
    previous, dead owner of the reservation had committed the command's events already,
    those events read back (the command never runs twice)."""
    slot = current_slot()
    done = None if slot is None else slot.committed
    if done is not None:
        return await svc.recorded(done.auction_id, done.first_seq, done.last_seq)
    return await run(current_mark())


def _decimal_or_zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _check_id(value: str, what: str) -> str:
    if not 1 <= len(value) <= 100 or not set(value) <= _ID_CHARS:
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{what} must be 1-100 characters of letters, digits, '-', '_' or '.'",
                extra={"field": what},
            )
        )
    return value


#: Answered while the server starts (the rest gets 503 until it is ready).
_ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})


def _not_ready(gavel: Gavel) -> Problem:
    """Why ``gavel`` is not ready: stopping, waiting for its database, or starting."""
    if gavel.closing:
        return problem(Code.SHUTTING_DOWN, "the server is stopping", retry_after=1)
    if gavel.waiting is not None:
        return problem(Code.STORAGE_UNAVAILABLE, f"starting: {gavel.waiting}", retry_after=1)
    return problem(Code.SHUTTING_DOWN, "the server is starting", retry_after=1)


#: The methods a 405's ``Allow`` header may list (what the routes are registered with).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route of ``request``'s app answers on ``request.path``. O(methods)."""
    allowed = []
    for method in _METHODS:
        try:
            request.app.router.get(request.path, method, None)
        except SanicException:
            continue
        allowed.append(method)
    return allowed


def create_app(settings: Settings | None = None) -> App:
    """The Gavel server as a Sanic app. Call order: build, then ``app.run()`` (or test)."""
    settings = settings or Settings.from_env()
    app = Sanic(f"gavel_{next(_APP_NAMES)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body
    app.config.WEBSOCKET_MAX_SIZE = 4096
    app.config.WEBSOCKET_PING_INTERVAL = 20
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 10.0
    app.config.KEEP_ALIVE_TIMEOUT = 30
    gavel = Gavel(settings)
    app.ctx.gavel = gavel

    @app.after_server_start
    async def _start(app: App) -> None:
        # In the background, the server already listening: /healthz answers at once,
        # /readyz and every other route 503 until the storage is up (start-up may wait
        # for the database). If start-up gives up, stop with exit status 1.
        async def give_up() -> None:
            app.ctx.exit_code = 1
            await gavel.stop()
            app.stop()

        gavel.begin(give_up)

    async def _until_ready(request: Request) -> HTTPResponse | None:
        # Starting: everything but the operations routes gets a 503 problem (websocket
        # handshakes too: this runs before the upgrade). Stopping is left to the routes,
        # which finish what they can.
        if gavel.ready or gavel.closing or request.path in _ALWAYS_ANSWERED:
            return None
        return problem_response(_not_ready(gavel))

    app.register_middleware(_until_ready, "request", priority=1000)  # before all others

    # SIGTERM and SIGINT run Gavel.stop while the server still runs (api.http.server.run_app),
    # then stop Sanic; this listener is for other ways of stopping, and is a no-op after
    # that. It runs before Sanic's own listener that cancels every websocket handler
    # (which would close the sockets with 1000 while their last commands still commit).
    app.ctx.graceful = gavel.stop

    @app.listener("before_server_stop", priority=-100)
    async def _stop(app: App) -> None:
        # Bounded: Sanic has removed its signal handlers by now, so nothing else could
        # end a shutdown stuck on storage that is down.
        try:
            await asyncio.wait_for(gavel.stop(), SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            log.error("shutdown did not finish in %.0f s; stopping anyway", SHUTDOWN_TIMEOUT_S)

    @app.exception(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> HTTPResponse:
        gavel.metrics.requests[(route_name(request), error.problem.status)] += 1
        return problem_response(error.problem)

    @app.exception(SanicException)
    async def _sanic_error(request: Request, error: SanicException) -> HTTPResponse:
        status = getattr(error, "status_code", 500) or 500
        code = {
            404: Code.NOT_FOUND,
            405: Code.METHOD_NOT_ALLOWED,
            413: Code.BODY_TOO_LARGE,
            400: Code.BAD_REQUEST,
            503: Code.SHUTTING_DOWN,
        }.get(status)
        # Keep Sanic's headers: a 405 must carry Allow (RFC 9110 §15.5.6).
        headers = {k: str(v) for k, v in (getattr(error, "headers", None) or {}).items()}
        if status == 405 and not any(name.lower() == "allow" for name in headers):
            # Sanic's router leaves Allow out on paths with parameters (TRACE on
            # /tenders/{t}/lots/{l}/envelopes): ask the router what the path takes.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if code is None:
            # Another client error of the HTTP layer (417 for an unknown Expect, ...): a
            # 4xx, never the 500 that INTERNAL_ERROR would make of it.
            status = status if 400 <= status < 500 else 500
            return problem_response(
                Problem(
                    status=status,
                    code=Code.BAD_REQUEST.value if status < 500 else Code.INTERNAL_ERROR.value,
                    title="Bad request" if status < 500 else Code.INTERNAL_ERROR.summary,
                    detail=str(error) or "the request was refused",
                    headers=headers,
                )
            )
        return problem_response(problem(code, str(error) or code.value, headers=headers))

    @app.exception(OutcomeUnknown)
    async def _outcome_unknown(request: Request, error: Exception) -> HTTPResponse:
        # Not a refusal (api.auctions.runner): the command ran, its commit failed and storage did
        # not come back in time to tell whether it stands. A distinct 503, so that no
        # client takes it for "nothing changed"; the log will tell.
        log.error("commit outcome unknown", extra={"path": request.path, "error": str(error)})
        gavel.metrics.requests[(route_name(request), 503)] += 1
        return problem_response(
            problem(
                Code.OUTCOME_UNKNOWN,
                f"{error}. It may have been recorded: once the service answers again, check"
                " /me, the ranking or the events (a retry under the same Idempotency-Key"
                " is answered from the log)",
                retry_after=5,
            )
        )

    @app.exception(asyncpg.PostgresError, asyncpg.InterfaceError, OSError, StorageUnavailable)
    async def _storage_error(request: Request, error: Exception) -> HTTPResponse:
        # PostgreSQL failed under a route, outside the runners (which answer
        # StorageUnavailable themselves): an idempotency reservation, a read of the log.
        # Nothing was changed by this request's failed statement; retrying is the remedy.
        log.error("storage error", extra={"path": request.path, "error": repr(error)})
        gavel.metrics.requests[(route_name(request), 503)] += 1
        return problem_response(
            problem(Code.STORAGE_UNAVAILABLE, "storage is unavailable; retry", retry_after=1)
        )

    @app.exception(Exception)
    async def _crash(request: Request, error: Exception) -> HTTPResponse:
        log.exception("unhandled error", extra={"path": request.path})
        return problem_response(problem(Code.INTERNAL_ERROR, "the server failed to answer"))

    # ------------------------------------------------------------------ operations

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> HTTPResponse:
        # 200 only when the database answers now; a 503 problem says why not.
        if not gavel.ready:
            return problem_response(_not_ready(gavel))
        try:
            await gavel.pool.fetchval("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return problem_response(
                problem(Code.STORAGE_UNAVAILABLE, "the database does not answer", retry_after=1)
            )
        return json_response({"status": "ready"})

    @app.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        service = gavel.service
        body = gavel.metrics.render(
            gavel.hub,
            service.runners.values() if service else (),
            gavel.writer.stats if gavel.writer else None,
        )
        body += _service_gauges(gavel)
        return text_response(body, content_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/v1/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response(openapi_document())

    @app.get("/api/v1/docs")
    async def docs(request: Request) -> HTTPResponse:
        return html(DOCS_HTML)

    # ------------------------------------------------------------------ auctions

    @app.post("/api/v1/auctions")
    async def create_auction(request: Request) -> HTTPResponse:
        claims = gavel.claims(request)  # an officer not bound to an auction (api.access.rules)
        require_json(request.headers.get("content-type"))
        tree = parse_object(request.body, max_bytes=settings.max_body)
        unknown = set(tree) - {"id", "rules"}
        if unknown:
            field = sorted(unknown)[0]
            raise ProblemError(
                problem(Code.UNKNOWN_FIELD, f"unknown field {field!r}", extra={"field": field})
            )
        if "rules" not in tree:
            raise ProblemError(
                problem(Code.MISSING_FIELD, "rules is required", extra={"field": "rules"})
            )
        chosen = tree.get("id")
        if chosen is not None and not isinstance(chosen, str):
            raise ProblemError(
                problem(Code.INVALID_FIELD, "id must be a string", extra={"field": "id"})
            )
        if chosen:
            _check_id(chosen, "id")
        rules = parse_rules(tree["rules"])
        if chosen and await gavel.id_kind(chosen) == "tender":
            raise ProblemError(
                problem_from_reason(
                    Reason.AUCTION_EXISTS, f"a tender is called {chosen!r}: ids name one thing"
                )
            )

        async def work() -> Answer:
            # Under an Idempotency-Key, the id the server picks and the command id come
            # from the reservation, so a retry after a crash names the same auction.
            slot = current_slot()
            stable = slot.command_id if slot else new_command_id("a").removeprefix("a-")
            auction_id = chosen or f"a-{stable[:12]}"
            try:
                events = await _once(
                    gavel.svc,
                    lambda mark: gavel.svc.create(auction_id, rules, f"create-{stable}", mark=mark),
                )
            except AuctionExists:
                raise ProblemError(
                    problem_from_reason(Reason.AUCTION_EXISTS, f"auction {auction_id!r} exists")
                ) from None
            except RunnerOverloaded as error:
                raise ProblemError(overloaded(error)) from None
            first = events[0]
            if isinstance(first, CommandRejected):
                raise ProblemError(problem_from_reason(first.reason, first.detail))
            body = {
                "id": auction_id,
                "format": format_name(rules),
                "seq": first.seq,
                "rules": rules_to_json(rules),
            }
            return 201, body, {"Location": f"/api/v1/auctions/{auction_id}"}

        return await gavel.respond(request, claims, work)

    @app.get("/api/v1/auctions")
    async def list_auctions(request: Request) -> HTTPResponse:
        claims = gavel.claims(request)
        records = await gavel.svc.store.list_auctions()
        visible = [
            {"id": r.id, "format": r.format, "status": r.status.value, "created_at": r.created_at}
            for r in records
            if claims.auction is None or claims.auction == r.id
        ]
        return json_response({"auctions": visible})

    @app.get("/api/v1/auctions/<auction_id>")
    async def get_auction(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        runner = await gavel.svc.runner(auction_id)
        if runner is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        channel = gavel.hub.channel(auction_id)
        audience = Audience(claims.role.value, claims.sub)
        return json_response(
            public_state(auction_id, channel.committed, channel.views, audience, gavel.svc.clock())
        )

    @app.get("/api/v1/auctions/<auction_id>/me")
    async def my_standing(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        runner = await gavel.svc.runner(auction_id)
        if runner is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        committed = gavel.hub.channel(auction_id).committed
        return json_response(standing(committed, claims.sub, gavel.svc.clock()))

    @app.get("/api/v1/auctions/<auction_id>/events")
    async def events_after(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        # Above MAX_INT no seq exists, and PostgreSQL's bigint would overflow (a 500).
        after = query_int(request.args, "after", default=0)
        if await gavel.svc.runner(auction_id) is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        channel = gavel.hub.channel(auction_id)
        audience = Audience(claims.role.value, claims.sub)
        history = await gavel.svc.history(auction_id, after)
        return json_response(
            {
                "events": [
                    {
                        "seq": ev.seq,
                        "server_time": ev.at,
                        "event": channel.views.render(ev, audience),
                    }
                    for ev in history[:1000]
                ]
            }
        )

    @app.post("/api/v1/auctions/<auction_id>/bidders")
    async def register_bidder(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.RegisterBidderBody)
        party = _check_id(body.party, "party")
        # Before the command: a token the caller may not mint must leave nothing registered.
        grant = access.grant(
            claims, auth.Role.BIDDER, auction_id, settings.token_ttl_s, now_s=int(time.time())
        )

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await gavel.run(
                auction_id,
                lambda cid, at: RegisterBidder(
                    cid,
                    at,
                    party,
                    _decimal_or_zero(body.coefficient),
                    _decimal_or_zero(body.cost),
                    body.initial_bid,
                ),
                prefix="register",
            )
            token, jti, lifetime = await gavel.mint(party, grant)
            answer = {
                "bidder": party,
                "label": accepted.label,
                "seq": accepted.seq,
                "token": token,
                "jti": jti,
                "expires_in": lifetime,
            }
            return 201, answer

        return await gavel.respond(request, claims, work)

    def _bidder_route(
        path: str, body_type: type[Any], build: Callable[[Any, str, str, int], Command]
    ) -> None:
        async def handler(request: Request, auction_id: str) -> HTTPResponse:
            claims = gavel.claims(request, auction_id)
            require_json(request.headers.get("content-type"))
            body = parse_body(request.body, body_type)

            async def work() -> tuple[int, dict[str, Any]]:
                accepted, _ = await gavel.run(
                    auction_id,
                    lambda cid, at: build(body, claims.sub, cid, at),
                    prefix="http",
                )
                if isinstance(accepted, BidAccepted):
                    gavel.metrics.count_result(True, None)
                channel = gavel.hub.channel(auction_id)
                audience = Audience("bidder", claims.sub)
                data = channel.views.render(accepted, audience) if accepted else None
                answer = {
                    "seq": accepted.seq if accepted else None,
                    "server_time": accepted.at if accepted else None,
                    "event": data,
                }
                return 201, answer

            return await gavel.respond(request, claims, work)

        app.add_route(
            handler,
            f"/api/v1/auctions/<auction_id>/{path}",
            methods=["POST"],
            name=f"bidder_{path}",
        )

    _bidder_route(
        "bids", bodies.BidBody, lambda b, who, cid, at: PlaceBid(cid, at, who, b.amount, b.currency)
    )
    _bidder_route(
        "proxy",
        bodies.ProxyBody,
        lambda b, who, cid, at: SetProxy(cid, at, who, b.limit, b.currency),
    )
    _bidder_route(
        "accept",
        bodies.AcceptBody,
        lambda b, who, cid, at: AcceptPrice(cid, at, who, b.expected, b.currency),
    )
    _bidder_route("withdraw", bodies.EmptyBody, lambda b, who, cid, at: WithdrawBid(cid, at, who))
    _bidder_route("pass", bodies.EmptyBody, lambda b, who, cid, at: PassTurn(cid, at, who))

    @app.post("/api/v1/auctions/<auction_id>/disqualify")
    async def disqualify(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.DisqualifyBody)

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await gavel.run(
                auction_id,
                lambda cid, at: DisqualifyBidder(cid, at, body.bidder, body.note),
                prefix="officer",
            )
            return 200, {"seq": accepted.seq, "event": to_data(accepted)}

        return await gavel.respond(request, claims, work)

    @app.post("/api/v1/auctions/<auction_id>/cancel")
    async def cancel(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.CancelBody)

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await gavel.run(
                auction_id, lambda cid, at: CancelAuction(cid, at, body.note), prefix="officer"
            )
            return 200, {"seq": accepted.seq, "event": to_data(accepted)}

        return await gavel.respond(request, claims, work)

    @app.post("/api/v1/tokens")
    async def issue_token(request: Request) -> HTTPResponse:
        # The binding is checked once the body names the new token's auction.
        claims = gavel.claims(request, bind=False)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.TokenBody)
        try:
            role = auth.Role(body.role)
        except ValueError:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"role must be one of {[r.value for r in auth.Role]}",
                    extra={"field": "role"},
                )
            ) from None
        if role not in auth.OVERSEERS and body.auction is None:
            raise ProblemError(
                problem(
                    Code.MISSING_FIELD,
                    f"a {role} token names its auction",
                    extra={"field": "auction"},
                )
            )
        ttl = body.ttl_s or settings.token_ttl_s
        if not 1 <= ttl <= access.MAX_TTL_S:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"ttl_s must be 1..{access.MAX_TTL_S}",
                    extra={"field": "ttl_s"},
                )
            )
        # An empty auction made auth.issue raise (a 500); a long one a token too long to verify.
        auction = None if body.auction is None else _check_id(body.auction, "auction")
        party = _check_id(body.party, "party")
        # Never a wider role, binding or lifetime than the caller's own (api.access.rules).
        grant = access.grant(claims, role, auction, ttl, now_s=int(time.time()))

        async def work() -> Answer:
            # Under an Idempotency-Key a retry gets the same credential, not a second one.
            token, jti, lifetime = await gavel.mint(party, grant)
            answer = {
                "token": token,
                "jti": jti,
                "role": role.value,
                "party": body.party,
                "expires_in": lifetime,
            }
            return 201, answer

        return await gavel.respond(request, claims, work)

    @app.post("/api/v1/tokens/<jti>/revoke")
    async def revoke_token(request: Request, jti: str) -> HTTPResponse:
        claims = gavel.claims(request)
        if request.body:
            # No body is expected; an empty JSON object is tolerated.
            require_json(request.headers.get("content-type"))
            parse_body(request.body, bodies.EmptyBody)
        if not 1 <= len(jti) <= 100:
            raise ProblemError(problem(Code.NOT_FOUND, "no token with this id was issued"))
        gavel.svc  # noqa: B018 - 503 while starting or stopping
        row = await gavel.revoke(jti, claims)
        return json_response(
            {
                "jti": row.jti,
                "party": row.party_id,
                "role": row.role,
                "auction": row.auction_id,
                "revoked": True,
                "revoked_at": row.revoked_at,
                "revoked_by": row.revoked_by,
            }
        )

    # ------------------------------------------------------------------ websocket

    handshakes = handshake_limits(settings)

    async def limit_handshakes(request: Request) -> None:
        # Before the upgrade: a refused handshake gets an HTTP 429 problem.
        check_handshake(handshakes, gavel.public_key, request, time.monotonic())

    @websocket_route(app, "/ws/v1/auctions/<auction_id>", subprotocols=[PROTOCOL])
    async def live(request: Request, ws: Any, auction_id: str) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin not in settings.origins:
            await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
            return
        try:
            claims = access.rule_for(route_name(request)).check(
                handshake_claims(request, gavel.public_key, gavel.revoked), auction_id
            )
        except auth.AccessDenied as error:
            await ws.close(4401, error.problem.code)
            return
        if gavel.closing:
            await ws.close(CLOSE_GOING_AWAY, "server shutting down")
            return
        gavel.sockets.add(ws)
        release = gavel.revoked.close_on_revoke(ws, claims.jti)
        try:
            await serve_session(
                ws,
                gavel.svc,
                auction_id,
                Audience(claims.role.value, claims.sub),
                queue_limit=settings.socket_queue,
                heartbeat_s=settings.heartbeat_s,
                on_result=gavel.metrics.count_result,
                on_slow=lambda: setattr(
                    gavel.metrics, "sockets_dropped_slow", gavel.metrics.sockets_dropped_slow + 1
                ),
            )
        finally:
            release()
            await leave(ws, gavel.sockets, closing=gavel.closing, timeout_s=CLOSE_WAIT_S)

    app.register_named_middleware(limit_handshakes, [f"{app.name}.live"])

    from api.http.tenders import add_tender_routes  # sealed tenders (issue 4)

    add_tender_routes(app, gavel)
    from api.audit.trail import add_audit_routes  # the auditor's trail (issue 5)

    add_audit_routes(app, gavel)
    from api.live.feed import add_feed_routes  # the read-only edges' feed (issue 3)

    add_feed_routes(app, gavel)
    return app
