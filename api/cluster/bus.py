"""The NATS bus between Gavel nodes: committed events out, forwarded commands to the owner.

A thin, typed wrapper over nats-py (core NATS, no JetStream: PostgreSQL is the log, so a
node that missed messages catches up from it after a gap or a reconnection).

Subjects
--------
Every subject begins with the cluster's name (``GAVEL_CLUSTER``, ``gavel`` by default), so
one NATS server may carry several clusters (or test runs) that never hear each other:

- ``gavel.ev.<kind>.<token>``: the events of one commit batch of one stream, one message,
  the canonical event JSON lines joined by ``\\n`` (canonical JSON holds no raw newline).
- ``gavel.cmd.<kind>.<token>``: a command for the owner of one stream (request/reply),
  served in the queue group ``owner`` so exactly one subscriber answers each request, even
  while two nodes both subscribe for a moment during a move.

``kind`` is ``"a"`` (auction) or ``"t"`` (tender); ``token`` is :func:`subject_token` of
the stream id (``.`` separates NATS tokens, so it becomes ``~``).

Call order: ``bus = await Bus.connect(url, name=…)`` → ``subscribe_events`` / ``serve`` /
``publish_events`` / ``request`` (``flush`` waits until the server has seen what was sent,
e.g. a new subscription) → ``await bus.close()`` (drain, then close). The
connection reconnects for ever; ``on_reconnect`` runs after every reconnection so the
caller can catch up from PostgreSQL.

Errors (all raised by :class:`Bus` methods)::

    BusError                 root: a bus operation failed (also: cannot connect at first,
     │                       outgoing buffer full while reconnecting)
     ├── NoOwner             nobody serves that stream's commands now (NATS no responders)
     ├── RequestTimedOut     sent, no answer in time: the outcome is unknown
     └── BusClosed           the bus was closed

Complexity: publishing is O(size of the payloads); each message received costs one
callback; no state per stream is kept here beyond one subscription per served stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = [
    "KINDS",
    "NOTE_HEADER",
    "Bus",
    "BusClosed",
    "BusError",
    "BusStats",
    "NoOwner",
    "RequestTimedOut",
    "Serving",
    "stream_id_of",
    "subject_token",
]

log = logging.getLogger("gavel.cluster")

#: The kinds of stream: ``"a"`` auctions, ``"t"`` tenders, ``"n"`` a node (the
#: subject a node serves every command for the auctions it owns on: see
#: :mod:`api.cluster.ownership`).
KINDS: Final = frozenset({"a", "t", "n"})
#: The header that marks a note (a checkpoint) on an events subject.
NOTE_HEADER: Final = "Gavel-Note"
#: The queue group of the command subscriptions.
OWNER_GROUP: Final = "owner"
#: Seconds between reconnection attempts (nats-py's default is 2).
RECONNECT_WAIT_S: Final = 0.5
#: Seconds allowed for the first connection.
CONNECT_TIMEOUT_S: Final = 2
#: Pending limits of the event subscription, above nats-py's defaults (512 Ki messages,
#: 128 MiB): past them nats-py drops messages and reports a slow consumer.
EVENTS_PENDING_MSGS: Final = 1_000_000
EVENTS_PENDING_BYTES: Final = 512 * 1024 * 1024

_STREAM_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
_TOKEN = re.compile(r"[A-Za-z0-9~_-]{1,200}")

EventHandler = Callable[[str, list[bytes]], None]
#: ``on_note(stream_id, note)``: a note published with :meth:`Bus.publish_note`.
NoteHandler = Callable[[str, bytes], None]
CommandHandler = Callable[[bytes], Awaitable[bytes]]
Callback = Callable[[], Awaitable[None]]


class BusError(Exception):
    """A bus operation failed (the root of this module's errors)."""


class NoOwner(BusError):
    """Nobody serves that stream's commands now (NATS answered "no responders")."""


class RequestTimedOut(BusError):
    """The request was sent but no answer came in time: its outcome is unknown."""


class BusClosed(BusError):
    """The bus is closed."""


def subject_token(stream_id: str) -> str:
    """The NATS subject token of ``stream_id`` (``[A-Za-z0-9._-]{1,200}``): ``.`` → ``~``.

    Raises :class:`ValueError` for anything else. Reversed by :func:`stream_id_of`.

    >>> subject_token("lot-1.2")
    'lot-1~2'
    """
    if not _STREAM_ID.fullmatch(stream_id):
        raise ValueError(f"not a stream id: {stream_id!r}")
    return stream_id.replace(".", "~")


def stream_id_of(token: str) -> str:
    """The stream id whose :func:`subject_token` is ``token``; :class:`ValueError` if none.

    >>> stream_id_of("lot-1~2")
    'lot-1.2'
    """
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"not a subject token: {token!r}")
    return token.replace("~", ".")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown stream kind {kind!r} (one of {sorted(KINDS)})")


def _events_subject(root: str, kind: str, stream_id: str) -> str:
    _check_kind(kind)
    return f"{root}.ev.{kind}.{subject_token(stream_id)}"


def _command_subject(root: str, kind: str, stream_id: str) -> str:
    _check_kind(kind)
    return f"{root}.cmd.{kind}.{subject_token(stream_id)}"


#: What a cluster's name may be: one NATS token.
_ROOT = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class BusStats:
    """The bus's counters since it connected (a snapshot)."""

    #: Event messages published (one per commit batch).
    published: int
    #: Event messages received and handed to the handler.
    received: int
    #: Requests sent.
    requests: int
    #: Requests that found no owner.
    no_owner: int
    #: Requests that timed out.
    timeouts: int
    #: Slow-consumer reports: messages nats-py dropped because a subscription fell behind.
    slow_consumer: int
    #: Reconnections after a lost connection.
    reconnects: int
    #: Requests served (handled by a :meth:`Bus.serve` handler).
    served: int


class Serving:
    """One stream's command subscription; :meth:`stop` ends it."""

    __slots__ = ("_subscription", "kind", "stream_id")

    def __init__(self, kind: str, stream_id: str, subscription: Subscription) -> None:
        self.kind = kind
        self.stream_id = stream_id
        self._subscription = subscription

    async def stop(self) -> None:
        """Unsubscribe: requests sent from now on are not delivered here (requests already
        delivered still get their answers)."""
        try:
            await self._subscription.unsubscribe()
        except nats.errors.ConnectionClosedError:
            pass
        except nats.errors.BadSubscriptionError:
            pass  # already stopped


class Bus:
    """One NATS connection of a node. Make it with :meth:`connect`."""

    def __init__(self, client: Client, root: str = "gavel") -> None:
        # Built by connect(); the counters are plain ints read into a BusStats snapshot.
        self._client = client
        #: The cluster's name: the first token of every subject.
        self.root = root
        self._closed = False
        self._published = 0
        self._received = 0
        self._requests = 0
        self._no_owner = 0
        self._timeouts = 0
        self._slow_consumer = 0
        self._reconnects = 0
        self._served = 0
        self._gap_callbacks: dict[int, Callback] = {}  # subscription sid -> on_gap
        self._gaps_pending: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(
        cls,
        servers: str,
        *,
        name: str,
        on_reconnect: Callback | None = None,
        on_disconnect: Callback | None = None,
        root: str = "gavel",
    ) -> Bus:
        """Connect to ``servers`` (``NATS_URL``: one URL or several, comma-separated).
        ``root``: the cluster's name, the first token of every subject (``GAVEL_CLUSTER``).

        The connection reconnects for ever, every :data:`RECONNECT_WAIT_S`;
        ``on_reconnect`` runs after each reconnection and ``on_disconnect`` after each loss.
        Raises :class:`BusError` if no server accepts the first connection.
        """
        urls = [url.strip() for url in servers.split(",") if url.strip()]
        if not urls:
            raise BusError("no NATS server given")
        if not _ROOT.fullmatch(root):
            raise BusError(f"a cluster's name is 1-64 of A-Z a-z 0-9 _ -, not {root!r}")
        holder: list[Bus] = []

        async def error_cb(error: Exception) -> None:
            if holder:
                holder[0]._on_error(error)
            else:
                log.warning("NATS: %s", error)

        async def reconnected_cb() -> None:
            bus = holder[0]
            bus._reconnects += 1
            log.info("NATS: reconnected to %s", bus._client.connected_url)
            if on_reconnect is not None:
                await _guarded(on_reconnect, "on_reconnect")

        async def disconnected_cb() -> None:
            if holder and not holder[0]._closed:
                log.warning("NATS: disconnected")
                if on_disconnect is not None:
                    await _guarded(on_disconnect, "on_disconnect")

        # Passed as a dict: nats-py types reconnect_time_wait as int but sleeps on floats.
        options: dict[str, Any] = {
            "servers": urls,
            "name": name,
            "error_cb": error_cb,
            "reconnected_cb": reconnected_cb,
            "disconnected_cb": disconnected_cb,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": RECONNECT_WAIT_S,
            "connect_timeout": CONNECT_TIMEOUT_S,
        }
        client = Client()
        try:
            # The first connection gives up after two tries per server (nats-py drops a
            # server from its pool once its tries exceed the limit; -1 never gives up).
            await client.connect(**{**options, "max_reconnect_attempts": 1})
        except (OSError, nats.errors.Error, TimeoutError) as error:
            await _quietly_close(client)
            raise BusError(f"cannot connect to NATS at {servers}: {error!r}") from error
        # From now on: reconnect for ever.
        client.options["max_reconnect_attempts"] = -1
        bus = cls(client, root)
        holder.append(bus)
        return bus

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now (False while reconnecting or closed)."""
        return bool(self._client.is_connected)

    @property
    def stats(self) -> BusStats:
        """The counters now."""
        return BusStats(
            published=self._published,
            received=self._received,
            requests=self._requests,
            no_owner=self._no_owner,
            timeouts=self._timeouts,
            slow_consumer=self._slow_consumer,
            reconnects=self._reconnects,
            served=self._served,
        )

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until the server has processed everything sent so far (a round trip):
        after it, a subscription made before is in place on the server. :class:`BusError`
        if no answer within ``timeout_s``, :class:`BusClosed` if closed."""
        self._raise_if_closed()
        try:
            await self._client.flush(timeout=timeout_s)  # type: ignore[arg-type]
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        except (nats.errors.Error, TimeoutError) as error:
            raise BusError(f"flush failed: {error!r}") from error

    async def close(self, grace_s: float = 5.0) -> None:
        """Let the requests being handled answer (up to ``grace_s``), drain (deliver what
        was received, flush what was sent), then close; what still runs is cancelled.
        Idempotent. Stop serving (:meth:`Serving.stop`) first to get no new requests."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        try:
            await self._client.drain()
        except (nats.errors.Error, TimeoutError, OSError) as error:
            log.warning("NATS: drain failed: %r", error)
        await _quietly_close(self._client)
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ events

    async def publish_events(self, kind: str, stream_id: str, payloads: Sequence[bytes]) -> None:
        """Publish one commit batch of ``stream_id``'s events (canonical JSON, no raw
        newline), one message. :class:`BusClosed` if closed, :class:`BusError` if the
        outgoing buffer is full while reconnecting."""
        subject = _events_subject(self.root, kind, stream_id)
        self._raise_if_closed()
        try:
            await self._client.publish(subject, b"\n".join(payloads))
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        except nats.errors.Error as error:
            raise BusError(f"cannot publish on {subject}: {error!r}") from error
        self._published += 1

    async def publish_note(self, kind: str, stream_id: str, note: bytes) -> None:
        """Publish something said of ``stream_id`` that is not an event (a signed
        checkpoint of its log), on its events subject, marked by the header
        :data:`NOTE_HEADER`: it reaches each subscriber in order with the commits around
        it. Raises as :meth:`publish_events`."""
        subject = _events_subject(self.root, kind, stream_id)
        self._raise_if_closed()
        try:
            await self._client.publish(subject, note, headers={NOTE_HEADER: "1"})
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        except nats.errors.Error as error:
            raise BusError(f"cannot publish on {subject}: {error!r}") from error
        self._published += 1

    async def subscribe_events(
        self,
        kind: str,
        handler: EventHandler,
        *,
        on_gap: Callback | None = None,
        on_note: NoteHandler | None = None,
    ) -> None:
        """Receive every stream's event batches of ``kind``: ``handler(stream_id, payloads)``
        is called in arrival order from one task, and ``on_note(stream_id, note)`` for
        what :meth:`publish_note` sent, in the same order. If the subscription falls so
        far behind that messages are dropped (slow consumer), ``on_gap`` is scheduled
        (once until it returns) so the caller can catch up from PostgreSQL."""
        _check_kind(kind)
        self._raise_if_closed()
        prefix_length = len(f"{self.root}.ev.{kind}.")

        async def deliver(msg: Msg) -> None:
            self._received += 1
            try:
                stream_id = stream_id_of(msg.subject[prefix_length:])
            except ValueError:
                log.warning("NATS: event on an unexpected subject %r", msg.subject)
                return
            try:
                if msg.headers and NOTE_HEADER in msg.headers:
                    if on_note is not None:
                        on_note(stream_id, msg.data)
                else:
                    handler(stream_id, msg.data.split(b"\n"))
            except Exception:
                log.exception("event handler failed for %s", msg.subject)

        try:
            subscription = await self._client.subscribe(
                f"{self.root}.ev.{kind}.*",
                cb=deliver,
                pending_msgs_limit=EVENTS_PENDING_MSGS,
                pending_bytes_limit=EVENTS_PENDING_BYTES,
            )
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        if on_gap is not None:
            self._gap_callbacks[subscription._id] = on_gap

    # ------------------------------------------------------------------ commands

    async def serve(self, kind: str, stream_id: str, handler: CommandHandler) -> Serving:
        """Answer ``stream_id``'s forwarded commands with ``handler`` (its bytes are the
        reply) until the returned :class:`Serving` is stopped. Each request runs in its
        own task, created in arrival order."""
        subject = _command_subject(self.root, kind, stream_id)
        self._raise_if_closed()

        async def answer(msg: Msg) -> None:
            try:
                reply = await handler(msg.data)
            except Exception:
                log.exception("command handler failed for %s (no answer sent)", subject)
                return
            self._served += 1
            if msg.reply:
                try:
                    await msg.respond(reply)
                except nats.errors.Error as error:
                    log.warning("NATS: cannot answer on %s: %r", subject, error)

        async def arrived(msg: Msg) -> None:
            self._spawn(answer(msg))

        try:
            subscription = await self._client.subscribe(subject, queue=OWNER_GROUP, cb=arrived)
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        return Serving(kind, stream_id, subscription)

    async def request(self, kind: str, stream_id: str, payload: bytes, timeout_s: float) -> bytes:
        """Send ``payload`` to ``stream_id``'s owner and return its answer.

        Raises :class:`NoOwner` if nobody serves the stream, :class:`RequestTimedOut` if
        no answer came within ``timeout_s`` (the outcome is unknown), :class:`BusClosed`
        if the bus is closed."""
        subject = _command_subject(self.root, kind, stream_id)
        self._raise_if_closed()
        self._requests += 1
        try:
            msg = await self._client.request(subject, payload, timeout=timeout_s)
        except nats.errors.NoRespondersError as error:
            self._no_owner += 1
            raise NoOwner(f"nobody serves {subject}") from error
        except nats.errors.TimeoutError as error:
            self._timeouts += 1
            raise RequestTimedOut(f"no answer on {subject} within {timeout_s} s") from error
        except nats.errors.ConnectionClosedError as error:
            raise BusClosed("the bus is closed") from error
        except nats.errors.Error as error:
            raise BusError(f"request on {subject} failed: {error!r}") from error
        return bytes(msg.data)

    # ------------------------------------------------------------------ internals

    def _raise_if_closed(self) -> None:
        if self._closed or self._client.is_closed:
            raise BusClosed("the bus is closed")

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def run() -> None:
            await coroutine

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_error(self, error: Exception) -> None:
        if isinstance(error, nats.errors.SlowConsumerError):
            self._slow_consumer += 1
            if self._slow_consumer == 1 or self._slow_consumer % 1000 == 0:
                log.warning(
                    "NATS: slow consumer on %s: messages dropped (%d so far)",
                    error.subject,
                    self._slow_consumer,
                )
            sid = error.sid
            on_gap = self._gap_callbacks.get(sid)
            if on_gap is not None and sid not in self._gaps_pending:
                self._gaps_pending.add(sid)

                async def catch_up() -> None:
                    try:
                        await _guarded(on_gap, "on_gap")
                    finally:
                        self._gaps_pending.discard(sid)

                self._spawn(catch_up())
            return
        log.warning("NATS: %r", error)


async def _guarded(callback: Callback, what: str) -> None:
    """Await ``callback``, logging (not raising) what it raises."""
    try:
        await callback()
    except Exception:
        log.exception("NATS: %s failed", what)


async def _quietly_close(client: Client) -> None:
    with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
        await client.close()
