"""The sealed-tender service, free of HTTP: the engine's tenders, their storage and the
cryptography around them (key ceremony, receipts, the opening).

One :class:`~engine.tender.Tender` per loaded tender, driven under a per-tender lock:
``clock() → handle(command) → TenderStore.append(...) → answer``. The answer (a receipt,
say) is built only after the commit; when the append fails the tender is reloaded from
its log, so memory never runs ahead of PostgreSQL.

A failed append is answered for certain, as an auction's (:func:`api.auctions.runner.learn_fate`):
a failure before COMMIT stored nothing (:class:`StorageFailed`, "nothing was recorded");
one at COMMIT (:class:`~api.storage.errors.CommitUncertain`: the envelope may stand) keeps
the command unanswered, under the tender's lock, until its transaction can no longer
commit and the log can be read (up to ``outcome_wait_s``, ``GAVEL_OUTCOME_WAIT_S``). The
log's bytes at the append's seqs decide: stored, the command is answered as if the commit
had returned (the receipt); not stored, :class:`StorageFailed`; still unknown past the
deadline, :class:`~api.auctions.runner.OutcomeUnknown`, which is not a refusal. The tender is then
rebuilt from its log before its next command is decided, and not before that transaction
settled: until then its commands are refused with :class:`StorageFailed` (they did not
run), and a late commit reaches the observers when it is learned.

Key custody (:mod:`contracts.custody`): the ceremony generates the opening key pair in
memory, splits the private key among the committee (each share sealed to its officer's
X25519 key and signed with the server's Ed25519 key), stores the encrypted shares and
publishes the public key, then wipes the private key. At the opening, officers hand in
their decrypted shares; they are verified and kept in memory only (never stored); with
``threshold`` of them the key is rebuilt, every envelope of the stage is decrypted and
checked against its commitment, the results are recorded and the key is wiped. A server
that restarts mid-opening has lost the shares: on load it records ``SharesDiscarded`` and
the officers hand them in again.

Idempotency, as the auctions' :class:`~api.auctions.service.Service`: each command method
takes the ``mark`` of the idempotency reservation it runs under (a
:class:`~api.storage.ports.CommandMark`, ``None`` without one) and commits its events
together with it (the tender store's ``append(..., mark=...)``: seqs ``first..last`` of
the tender in the key's row, in the same transaction). A retry that takes over a
reservation whose command committed (the process died before the answer was stored)
calls :meth:`TenderService.recorded` with the seqs the reservation names instead: the
events come back from the log and the command never runs twice. A share whose opening
follows marks both appends, the opening's mark covering the share's events too.

In a cluster (``owners``, a :class:`~api.tenders.ports.TenderOwners`): a tender is run
by the one node holding its lease. Every command method first claims it: held, the
command runs here and each of its appends carries the lease's epoch (the store refuses
it, :class:`~api.storage.errors.LeaseLost`, once another node took the lease); not held,
the call goes to the holder in the wire form of :mod:`api.tenders.remote` and its answer
(or error, same class and message) comes back. A fenced append drops the tender from
memory with its pending shares, tells ``owners.lost`` and sends the command to the new
holder instead, trying for up to ``handover_s`` (8 s) while no node serves it, then
:class:`StorageFailed` (nothing stored); if an earlier append of the same call had
committed (a share whose opening was then fenced) it is
:class:`~api.auctions.runner.OutcomeUnknown` instead. A call served for another node
(:meth:`TenderService.serving`) is never forwarded again: it is answered
:class:`~api.auctions.runner.NotOwner` and its caller looks the holder up anew. The copy
in memory serves commands only under the epoch it was loaded with; reads on a node that
does not hold the lease are served from a view kept current from the log (the events
after its seq read at each read), never from a stale copy. Without owners nothing of
this happens.

Call order: ``TenderService(store, server_key, observers=[...], owners=None)``, then any
method from any task. Each observer is called with ``(tender_id, events)`` right after
every commit (on the node that committed them).
Errors: :class:`~api.tenders.errors.TenderError` (``UnknownTender``, ``TenderExists``,
``StorageFailed``, ``DeadlineMoved``); engine refusals come back as
:class:`~engine.events.CommandRejected` events (:func:`own_event` raises them as
:class:`~api.tenders.errors.Refused`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auctions.outcomes import new_command_id
from api.auctions.runner import (
    OUTCOME_WAIT_S,
    Fate,
    NotOwner,
    OutcomeUnknown,
    learn_fate,
    server_time_us,
)
from api.storage.errors import CommitUncertain, LeaseLost, SeqConflict
from api.storage.ports import CommandMark
from api.storage.tenders import EnvelopeBlob, StoredTenderEvent, TenderStore
from api.tenders import remote
from api.tenders.errors import (
    DeadlineMoved,
    Refused,
    StorageFailed,
    TenderExists,
    UnknownTender,
)
from api.tenders.ports import TenderOwners
from api.tenders.reports import OpeningReport
from contracts import custody, sealing
from contracts.receipts import Receipt, SignedReceipt, key_id, sign_receipt
from engine.codec import encode
from engine.events import CommandRejected
from engine.tender import Envelope, LotState, Tender, replay_tender
from engine.tender_records import (
    CreateTender,
    DiscardShares,
    EnvelopeKind,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    OfferedFeature,
    Opening,
    PublishTender,
    RecordOpening,
    ShareAccepted,
    SharesDiscarded,
    SubmitEnvelope,
    SubmitShare,
    TenderCommand,
    TenderEvent,
    TenderSpec,
    WithdrawEnvelope,
    decode_tender_event,
)

__all__ = ["OpeningReport", "TenderObserver", "TenderService", "own_event", "receipt_for"]

log = logging.getLogger("gavel.tenders")

#: Called after each committed append of a tender's events: ``(tender_id, events)``,
#: the events just committed in seq order (see :attr:`TenderService.observers`).
TenderObserver = Callable[[str, list[TenderEvent]], None]


_T = TypeVar("_T")

#: Seconds a command keeps looking for the tender's owner while no node serves it.
HANDOVER_S = 8.0


@dataclass(slots=True)
class _Call:
    """A command running here under this node's lease: the epoch its appends carry, and
    how many of its appends committed so far."""

    epoch: int
    appended: int = 0


#: The command running in this task under a lease (cluster only; ``None`` otherwise).
_CALL: ContextVar[_Call | None] = ContextVar("gavel_tender_call", default=None)
#: True while serving a call another node forwarded (it is never forwarded again).
_SERVED: ContextVar[bool] = ContextVar("gavel_tender_served", default=False)


def own_event(events: list[TenderEvent]) -> TenderEvent:
    """A command's own (last) event; :class:`~api.tenders.errors.Refused` if the engine
    refused the command. O(1)."""
    last = events[-1]
    if isinstance(last, CommandRejected):
        raise Refused(last)
    return last


def receipt_for(
    tender_id: str, event: EnvelopeReceived | EnvelopeWithdrawn, server_key: Ed25519PrivateKey
) -> SignedReceipt:
    """The signed receipt of a submission or withdrawal event. Deterministic (Ed25519), so
    asking again for the receipt of an event gives the same bytes. O(1)."""
    public = server_key.public_key().public_bytes_raw()
    receipt = Receipt(
        tender_id=tender_id,
        lot_id=event.lot,
        kind=event.kind.value,
        bidder_id=event.bidder,
        commitment=event.commitment,
        received_at_us=event.at,
        seq=event.seq,
        server_key_id=key_id(public),
        action="submitted" if isinstance(event, EnvelopeReceived) else "withdrawn",
    )
    return sign_receipt(receipt, server_key)


class TenderService:
    """Every tender this node serves."""

    def __init__(
        self,
        store: TenderStore,
        server_key: Ed25519PrivateKey,
        *,
        clock: Callable[[], int] = server_time_us,
        observers: list[TenderObserver] | None = None,
        outcome_wait_s: float = OUTCOME_WAIT_S,
        closing: Callable[[], bool] = lambda: False,
        owners: TenderOwners | None = None,
        handover_s: float = HANDOVER_S,
    ) -> None:
        #: In a cluster: who holds each tender's lease (see the module); else ``None``.
        self.owners = owners
        #: How long a command looks for the tender's owner while none serves it.
        self.handover_s = handover_s
        #: The tenders' log, envelopes and shares (:mod:`api.storage.tenders`).
        self.store = store
        #: How long a command whose COMMIT failed waits for its fate at most.
        self.outcome_wait_s = outcome_wait_s
        #: Says the server stops: a fate is no longer waited for.
        self._closing = closing
        #: Called as ``observer(tender_id, events)`` after every committed append, with
        #: the events just committed in seq order; synchronously, never awaited; an
        #: observer's exception is logged and swallowed. The list is shared, not copied,
        #: so observers added to it later are called too.
        self.observers: list[TenderObserver] = observers if observers is not None else []
        self.server_key = server_key
        self.server_public = server_key.public_key().public_bytes_raw()
        self.clock = clock
        self._tenders: dict[str, Tender] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: Verified shares handed in for the current stage: (tender, lot) → officer → share.
        self._pending: dict[tuple[str, str], dict[str, custody.Share]] = {}
        #: Tenders whose last append's fate is unknown: its error and rows. The tender is
        #: not loaded again before that transaction settled (it may still commit).
        self._unsettled: dict[str, tuple[CommitUncertain, list[StoredTenderEvent]]] = {}
        #: With owners: the lease epoch each tender in memory was loaded under (its copy
        #: serves commands under that epoch only).
        self._epochs: dict[str, int] = {}
        #: With owners: tenders read here while another node runs them, kept current
        #: from the log at each read.
        self._views: dict[str, Tender] = {}
        #: With owners: when each tender last ran a command here (monotonic seconds).
        self.last_used: dict[str, float] = {}

    # ------------------------------------------------------------------ loading

    def _lock(self, tender_id: str) -> asyncio.Lock:
        lock = self._locks.get(tender_id)
        if lock is None:
            lock = self._locks[tender_id] = asyncio.Lock()
        return lock

    async def _load(self, tender_id: str) -> Tender | None:
        """The tender, from memory or its log (call with its lock held). Raises
        :class:`StorageFailed` while an append of its whose fate was unknown may still
        commit (or the log cannot be read to tell)."""
        tender = self._tenders.get(tender_id)
        call = _CALL.get()
        if self.owners is not None:
            if call is None:
                return await self._view(tender_id)
            if tender is not None and self._epochs.get(tender_id) != call.epoch:
                # Loaded under another lease: the log may have moved on since.
                self._drop(tender_id)
                tender = None
        if tender is not None:
            return tender
        await self._settle(tender_id)
        rows = await self.store.read(tender_id)
        if not rows:
            return None
        tender = replay_tender(decode_tender_event(row.payload) for row in rows)
        self._tenders[tender_id] = tender
        if call is not None:
            self._epochs[tender_id] = call.epoch
        # Shares are held in memory only: any logged before a restart are gone.
        for name, lot in tender.lots.items():
            if lot.shares and (tender_id, name) not in self._pending:

                def discard(at: int, name: str = name) -> DiscardShares:
                    return DiscardShares(
                        new_command_id("discard"), at, name, "shares are kept in memory only"
                    )

                await self._run(tender_id, tender, discard)
        return tender

    async def _view(self, tender_id: str) -> Tender | None:
        """A read with owners (lock held): this node's own copy while it holds the lease
        it was loaded under, else a view of the log brought up to date (the events after
        its seq). Never appends. O(new events), O(events) the first time."""
        assert self.owners is not None
        own = self._tenders.get(tender_id)
        epoch = self.owners.holding(tender_id)
        if own is not None and epoch is not None and self._epochs.get(tender_id) == epoch:
            return own
        view = self._views.get(tender_id)
        if view is None:
            rows = await self.store.read(tender_id)
            if not rows:
                return None
            view = replay_tender(decode_tender_event(row.payload) for row in rows)
            self._views[tender_id] = view
            return view
        for row in await self.store.read(tender_id, view.seq):
            view.apply(decode_tender_event(row.payload))
        return view

    def _drop(self, tender_id: str) -> None:
        """Forget this node's copy of the tender and its pending shares (its lease is
        gone, or it was loaded under an older one)."""
        self._tenders.pop(tender_id, None)
        self._epochs.pop(tender_id, None)
        for key in [key for key in self._pending if key[0] == tender_id]:
            del self._pending[key]

    # ------------------------------------------------------------------ the cluster

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Within: the calls made are another node's, forwarded here: they run here under
        this node's lease or are refused :class:`~api.auctions.runner.NotOwner`, never
        forwarded again (:func:`api.tenders.remote.serve_call`)."""
        token = _SERVED.set(True)
        try:
            yield
        finally:
            _SERVED.reset(token)

    def idle(self, tender_id: str, idle_s: float) -> bool:
        """Whether this node may give up the tender's lease: no command ran here for
        ``idle_s`` seconds, none runs now, and no share waits for the opening (shares
        live in this node's memory only). O(pending stages)."""
        if any(key[0] == tender_id and shares for key, shares in self._pending.items()):
            return False
        lock = self._locks.get(tender_id)
        if lock is not None and lock.locked():
            return False
        return time.monotonic() - self.last_used.get(tender_id, 0.0) >= idle_s

    async def _anywhere(
        self,
        tender_id: str,
        call: Callable[[], bytes],
        decode: Callable[[bytes], _T],
        here: Callable[[], Awaitable[_T]],
    ) -> _T:
        """``here()`` on a single node; in a cluster, ``here()`` under this node's lease
        or ``decode(owners.forward(call()))`` at the holder's (see the module docstring).
        O(1) tries while the lease is settled."""
        owners = self.owners
        if owners is None:
            return await here()
        deadline = time.monotonic() + self.handover_s
        pause = 0.05
        while True:
            try:
                epoch = await owners.claim(tender_id)
            except Exception as error:
                raise StorageFailed(f"tender {tender_id}: its lease: {error!r}") from error
            failure: Exception
            if epoch is not None:
                self.last_used[tender_id] = time.monotonic()
                running = _Call(epoch)
                token = _CALL.set(running)
                try:
                    return await here()
                except LeaseLost as error:
                    owners.lost(tender_id)
                    log.warning("tender lease lost at an append", extra={"tender": tender_id})
                    if running.appended:
                        raise OutcomeUnknown(
                            f"tender {tender_id}: its lease moved to another node in the"
                            " middle of the command: part of it is recorded; the log tells"
                        ) from error
                    failure = error
                finally:
                    _CALL.reset(token)
            elif _SERVED.get():
                raise NotOwner(f"tender {tender_id}: this node does not hold its lease")
            else:
                try:
                    return decode(await owners.forward(tender_id, call()))
                except NotOwner as error:
                    failure = error
            if _SERVED.get():
                raise NotOwner(f"tender {tender_id}: this node lost its lease ({failure})")
            if time.monotonic() + pause > deadline:
                raise StorageFailed(
                    f"tender {tender_id}: not recorded: no node took its lease within"
                    f" {self.handover_s:g} s ({failure})"
                ) from failure
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    # ------------------------------------------------------------------ reads

    async def tender(self, tender_id: str) -> Tender:
        """The tender (loaded if need be); :class:`UnknownTender` if none."""
        async with self._lock(tender_id):
            tender = await self._load(tender_id)
        if tender is None:
            raise UnknownTender(tender_id)
        return tender

    async def history(self, tender_id: str) -> list[TenderEvent]:
        """Every committed event of the tender, in order."""
        return [decode_tender_event(row.payload) for row in await self.store.read(tender_id)]

    # ------------------------------------------------------------------ commands

    async def _run(
        self,
        tender_id: str,
        tender: Tender,
        make: Callable[[int], TenderCommand],
        blob: Callable[[list[TenderEvent]], list[EnvelopeBlob]] | None = None,
        shares: list[tuple[str, str]] | None = None,
        mark: CommandMark | None = None,
    ) -> list[TenderEvent]:
        """Handle one command and commit its events (lock held). On a storage error the
        tender is dropped from memory (its log is the truth) and the error propagates.

        ``mark``: the command's idempotency reservation; recorded with the events, from
        ``mark.first_seq`` (0: this append's first event) to this append's last."""
        at = max(self.clock(), tender.now)
        events = tender.handle(make(at))
        if not events:
            return events
        stored = [StoredTenderEvent(e.seq, type(e).__name__, e.at, encode(e)) for e in events]
        if mark is not None:
            mark = dataclasses.replace(
                mark, first_seq=mark.first_seq or events[0].seq, last_seq=events[-1].seq
            )
        envelopes = blob(events) if blob is not None else ()
        keys = shares if shares and not isinstance(events[-1], CommandRejected) else ()
        call = _CALL.get()
        try:
            if call is None:
                await self.store.append(tender_id, stored, envelopes, keys, mark)
            else:
                await self.store.append(tender_id, stored, envelopes, keys, mark, epoch=call.epoch)
        except LeaseLost:
            # Another node runs the tender now: nothing was stored, memory is stale.
            self._drop(tender_id)
            raise
        except Exception as error:
            # Memory may be ahead of the log: forget it; the next command reloads the log
            # (once it can no longer change: _settle).
            self._tenders.pop(tender_id, None)
            log.warning("tender append failed", extra={"tender": tender_id}, exc_info=True)
            await self._stored_after_all(tender_id, stored, error)
        except BaseException:
            self._tenders.pop(tender_id, None)
            raise
        if call is not None:
            call.appended += 1
        self._notify(tender_id, events)
        return events

    async def _fate(
        self, tender_id: str, stored: list[StoredTenderEvent], error: Exception
    ) -> Fate[StoredTenderEvent]:
        """:func:`api.auctions.runner.learn_fate` of the tender's failed append of ``stored``."""
        return await learn_fate(
            error,
            stored,
            read=lambda after: self.store.read(tender_id, after),
            settled=self.store.settled,
            wait_s=self.outcome_wait_s,
            giving_up=self._closing,
        )

    async def _stored_after_all(
        self, tender_id: str, stored: list[StoredTenderEvent], error: Exception
    ) -> None:
        """Return if the failed append of ``stored`` was committed after all (its caller
        then answers as if the commit had returned); else raise what the command's caller
        must hear: :class:`StorageFailed` (certainly not stored) or
        :class:`~api.auctions.runner.OutcomeUnknown` (not learned within ``outcome_wait_s``).
        Waits, lock held, as :func:`api.auctions.runner.learn_fate` does."""
        fate = await self._fate(tender_id, stored, error)
        log.warning(
            "tender commit outcome learned",
            extra={"tender": tender_id, "fate": fate.verdict, "failure": type(error).__name__},
        )
        if fate.verdict == "stored":
            return
        if fate.verdict == "absent":
            raise StorageFailed(f"tender {tender_id}: {type(error).__name__}") from error
        if isinstance(error, CommitUncertain):
            self._unsettled[tender_id] = (error, stored)
        raise OutcomeUnknown(
            f"storage did not come back within {self.outcome_wait_s:g} s to tell whether it"
            f" was recorded: {error}"
        ) from error

    async def _settle(self, tender_id: str) -> None:
        """Before the tender is read from its log again: if an append of its had an
        unknown fate, wait (up to ``outcome_wait_s``) until it can no longer commit, and
        tell the observers if it did commit. :class:`StorageFailed` if that is not known
        in time: the command that wanted the tender did not run."""
        pending = self._unsettled.get(tender_id)
        if pending is None:
            return
        error, stored = pending
        fate = await self._fate(tender_id, stored, error)
        if fate.verdict == "unknown":
            raise StorageFailed(f"tender {tender_id}: its last commit has not settled yet")
        del self._unsettled[tender_id]
        if fate.verdict == "stored":
            # A late commit: the observers (the audit trail) see it as any other.
            self._notify(tender_id, [decode_tender_event(row.payload) for row in stored])

    async def recorded(self, tender_id: str, first_seq: int, last_seq: int) -> list[TenderEvent]:
        """The events ``first_seq..last_seq`` of ``tender_id`` that a previous owner of an
        idempotency reservation committed before it died without storing its answer,
        read from the log (the command never runs twice). The tender is loaded first,
        as for a command; :class:`UnknownTender` if there is none. O(events read)."""
        async with self._lock(tender_id):
            if await self._load(tender_id) is None:
                raise UnknownTender(tender_id)
            rows = await self.store.read(tender_id, first_seq - 1, last_seq - first_seq + 1)
        return [decode_tender_event(row.payload) for row in rows]

    def _notify(self, tender_id: str, events: list[TenderEvent]) -> None:
        """Tell every observer about ``events``, just committed. Never raises."""
        for observer in list(self.observers):
            try:
                observer(tender_id, list(events))
            except Exception:
                log.exception("tender observer failed", extra={"tender": tender_id})

    async def _existing(self, tender_id: str) -> Tender:
        """Under the tender's lock: the tender, or :class:`UnknownTender`."""
        tender = await self._load(tender_id)
        if tender is None:
            raise UnknownTender(tender_id)
        return tender

    async def command(
        self,
        tender_id: str,
        make: Callable[[int], TenderCommand],
        mark: CommandMark | None = None,
    ) -> list[TenderEvent]:
        """Run a command on an existing tender; its events once committed (with ``mark``).
        At the owner, ``make`` is called with the owner's clock."""
        return await self._anywhere(
            tender_id,
            lambda: remote.command(tender_id, make, mark),
            remote.decode_events,
            lambda: self._command(tender_id, make, mark),
        )

    async def _command(
        self,
        tender_id: str,
        make: Callable[[int], TenderCommand],
        mark: CommandMark | None = None,
    ) -> list[TenderEvent]:
        async with self._lock(tender_id):
            tender = await self._existing(tender_id)
            return await self._run(tender_id, tender, make, mark=mark)

    async def create(
        self, tender_id: str, by: str, spec: TenderSpec, mark: CommandMark | None = None
    ) -> list[TenderEvent]:
        """Create a tender; a rejection is returned but not stored. :class:`TenderExists`."""
        return await self._anywhere(
            tender_id,
            lambda: remote.create(tender_id, by, spec, mark),
            remote.decode_events,
            lambda: self._create(tender_id, by, spec, mark),
        )

    async def _create(
        self, tender_id: str, by: str, spec: TenderSpec, mark: CommandMark | None = None
    ) -> list[TenderEvent]:
        async with self._lock(tender_id):
            if await self._load(tender_id) is not None:
                raise TenderExists(tender_id)
            tender = Tender()
            events = tender.handle(CreateTender(new_command_id("tender"), self.clock(), by, spec))
            if isinstance(events[0], CommandRejected):
                return events
            stored = [StoredTenderEvent(e.seq, type(e).__name__, e.at, encode(e)) for e in events]
            if mark is not None:
                mark = dataclasses.replace(mark, first_seq=1, last_seq=events[-1].seq)
            call = _CALL.get()
            try:
                if call is None:
                    await self.store.append(tender_id, stored, mark=mark)
                else:
                    await self.store.append(tender_id, stored, mark=mark, epoch=call.epoch)
            except SeqConflict:
                raise TenderExists(tender_id) from None  # another process created it
            except LeaseLost:
                raise
            except Exception as error:
                await self._stored_after_all(tender_id, stored, error)
            self._tenders[tender_id] = tender
            if call is not None:
                call.appended += 1
                self._epochs[tender_id] = call.epoch
            self._notify(tender_id, events)
            return events

    async def ceremony(
        self, tender_id: str, by: str, mark: CommandMark | None = None
    ) -> list[TenderEvent]:
        """The key ceremony, then publication: opening key generated in memory, split among
        the committee, encrypted shares stored with the ``TenderPublished`` event, private
        key wiped. O(n · k)."""
        return await self._anywhere(
            tender_id,
            lambda: remote.ceremony(tender_id, by, mark),
            remote.decode_events,
            lambda: self._ceremony(tender_id, by, mark),
        )

    async def _ceremony(
        self, tender_id: str, by: str, mark: CommandMark | None = None
    ) -> list[TenderEvent]:
        async with self._lock(tender_id):
            tender = await self._existing(tender_id)
            spec = tender.spec
            assert spec is not None
            officers = {o.officer: bytes.fromhex(o.public_key) for o in spec.officers}
            raw_private, public = custody.generate_opening_key()
            private = bytearray(raw_private)
            del raw_private
            try:
                split = custody.split_key(
                    bytes(private), spec.threshold, officers, self.server_key, tender_id
                )
            finally:
                custody.wipe(private)
            shares = [(s.officer_id, json.dumps(s.to_json(), sort_keys=True)) for s in split]
            ceremony = hashlib.sha256("\n".join(text for _, text in shares).encode()).hexdigest()
            return await self._run(
                tender_id,
                tender,
                lambda at: PublishTender(new_command_id("publish"), at, by, public.hex(), ceremony),
                shares=shares,
                mark=mark,
            )

    async def submit(
        self,
        tender_id: str,
        bidder: str,
        lot: str,
        kind: EnvelopeKind,
        ciphertext: bytes,
        *,
        sealed_for: int | None = None,
        mark: CommandMark | None = None,
    ) -> list[TenderEvent]:
        """Store a sealed envelope: its commitment in the log, its ciphertext beside it, in
        one transaction. The receipt time is the server clock at the command.

        ``sealed_for``: the deadline the client sealed under (bound into the HPKE info);
        if the lot's deadline differs, :class:`DeadlineMoved` and nothing is recorded
        (checked under the tender's lock, so no schedule change slips in between)."""
        return await self._anywhere(
            tender_id,
            lambda: remote.submit(tender_id, bidder, lot, kind, ciphertext, sealed_for, mark),
            remote.decode_events,
            lambda: self._submit(tender_id, bidder, lot, kind, ciphertext, sealed_for, mark),
        )

    async def _submit(
        self,
        tender_id: str,
        bidder: str,
        lot: str,
        kind: EnvelopeKind,
        ciphertext: bytes,
        sealed_for: int | None,
        mark: CommandMark | None,
    ) -> list[TenderEvent]:
        commitment = sealing.commitment(ciphertext)

        def blobs(events: list[TenderEvent]) -> list[EnvelopeBlob]:
            return [
                EnvelopeBlob(e.seq, e.lot, e.kind.value, e.bidder, e.commitment, ciphertext)
                for e in events
                if isinstance(e, EnvelopeReceived)
            ]

        async with self._lock(tender_id):
            tender = await self._existing(tender_id)
            state = tender.lots.get(lot)
            if sealed_for is not None and state is not None and state.deadline != sealed_for:
                raise DeadlineMoved(state.deadline, sealed_for)
            return await self._run(
                tender_id,
                tender,
                lambda at: SubmitEnvelope(
                    new_command_id("envelope"), at, bidder, lot, kind, commitment, len(ciphertext)
                ),
                blob=blobs,
                mark=mark,
            )

    async def withdraw(
        self,
        tender_id: str,
        bidder: str,
        lot: str,
        kind: EnvelopeKind,
        mark: CommandMark | None = None,
    ) -> list[TenderEvent]:
        """Withdraw a bidder's envelope of ``kind``."""

        def make(at: int) -> WithdrawEnvelope:
            return WithdrawEnvelope(new_command_id("withdraw"), at, bidder, lot, kind)

        return await self._anywhere(
            tender_id,
            lambda: remote.withdraw(tender_id, bidder, lot, kind, mark),
            remote.decode_events,
            lambda: self._command(tender_id, make, mark),
        )

    # ------------------------------------------------------------------ the opening

    def verdict(self, tender: Tender, tender_id: str, officer: str, share: custody.Share) -> str:
        """Why ``share`` cannot count for ``officer`` ("" if it can). O(1)."""
        if share.officer_id != officer:
            return f"forged_share: the share is officer {share.officer_id!r}'s"
        if tender.public_key is None or share.opening_public.hex() != tender.public_key:
            return "forged_share: the share is for another opening key"
        try:
            custody.verify_share(share, ceremony_public=self.server_public, tender_id=tender_id)
        except custody.CustodyError as error:
            return f"{error.reason}: {error.detail}"
        return ""

    async def submit_share(
        self,
        tender_id: str,
        officer: str,
        lot: str,
        kind: EnvelopeKind,
        share: custody.Share | None,
        problem: str = "",
        mark: CommandMark | None = None,
    ) -> tuple[list[TenderEvent], OpeningReport | None]:
        """Hand in an officer's share; with ``threshold`` of them, open the stage.

        ``share`` is ``None`` when the body did not parse (``problem`` says why): the
        attempt is still logged, as an ``invalid_share`` refusal. A retry whose share was
        recorded already gets its answer from :meth:`share_answer`. In a cluster every
        share of a tender goes to its one owner, where the shares wait in memory.
        """
        return await self._anywhere(
            tender_id,
            lambda: remote.submit_share(tender_id, officer, lot, kind, share, problem, mark),
            remote.decode_share_answer,
            lambda: self._submit_share(tender_id, officer, lot, kind, share, problem, mark),
        )

    async def _submit_share(
        self,
        tender_id: str,
        officer: str,
        lot: str,
        kind: EnvelopeKind,
        share: custody.Share | None,
        problem: str,
        mark: CommandMark | None,
    ) -> tuple[list[TenderEvent], OpeningReport | None]:
        async with self._lock(tender_id):
            tender = await self._existing(tender_id)
            verdict = problem or (
                self.verdict(tender, tender_id, officer, share)
                if share is not None
                else "malformed"
            )
            events = await self._run(
                tender_id,
                tender,
                lambda at: SubmitShare(new_command_id("share"), at, officer, lot, kind, verdict),
                mark=mark,
            )
            accepted = [e for e in events if isinstance(e, ShareAccepted)]
            if not accepted:
                return events, None
            assert share is not None
            pending = self._pending.setdefault((tender_id, lot), {})
            pending[officer] = share
            spec = tender.spec
            assert spec is not None
            state = tender.lots[lot]
            if len(state.shares) < spec.threshold:
                return events, None
            if mark is not None:
                # The opening's append records the share's events and its own together.
                mark = dataclasses.replace(mark, first_seq=events[0].seq)
            report = await self._open(tender_id, tender, state, kind, mark)
            return events, report

    @staticmethod
    def share_answer(
        done: list[TenderEvent],
    ) -> tuple[list[TenderEvent], OpeningReport | None]:
        """A share submission's answer rebuilt from the events it committed: the share's
        own (up to its acceptance or refusal), then the opening's, if one followed."""
        cut = next(
            (i + 1 for i, e in enumerate(done) if isinstance(e, ShareAccepted | CommandRejected)),
            len(done),
        )
        rest = done[cut:]
        if not rest:
            return done[:cut], None
        failure = next((e.note for e in rest if isinstance(e, SharesDiscarded)), None)
        return done[:cut], OpeningReport(tuple(rest), failure)

    async def _open(
        self,
        tender_id: str,
        tender: Tender,
        lot: LotState,
        kind: EnvelopeKind,
        mark: CommandMark | None = None,
    ) -> OpeningReport:
        """Rebuild the key from the pending shares, open every envelope of ``kind``, record
        the results, wipe the key (lock held)."""
        spec = tender.spec
        assert spec is not None and tender.public_key is not None
        name = lot.spec.lot
        pending = self._pending.pop((tender_id, name), {})
        shares = [pending[officer] for officer in lot.shares if officer in pending]
        try:
            key = custody.combine(shares, spec.threshold, bytes.fromhex(tender.public_key))
        except custody.CustodyError as error:
            failure = f"{error.reason}: {error.detail}"
            events = await self._run(
                tender_id,
                tender,
                lambda at: DiscardShares(new_command_id("discard"), at, name, failure),
                mark=mark,
            )
            return OpeningReport(tuple(events), failure)
        try:
            live = lot.live(kind)  # an excluded bidder's envelopes are never opened
            blobs = await self.store.ciphertexts(tender_id, [e.seq for _, e in live])
            results = tuple(
                self._open_one(
                    tender_id, name, kind, bidder, envelope, blobs.get(envelope.seq), key
                )
                for bidder, envelope in live
            )
        finally:
            custody.wipe(key)
        events = await self._run(
            tender_id,
            tender,
            lambda at: RecordOpening(new_command_id("opening"), at, name, kind, results),
            mark=mark,
        )
        return OpeningReport(tuple(events), None)

    @staticmethod
    def _open_one(
        tender_id: str,
        lot: str,
        kind: EnvelopeKind,
        bidder: str,
        envelope: Envelope,
        ciphertext: bytes | None,
        key: bytearray,
    ) -> Opening:
        """Decrypt one envelope; any failure is an invalid result, never an exception."""

        def invalid(problem: str) -> Opening:
            return Opening(bidder, envelope.commitment, None, "", "", problem)

        if ciphertext is None:
            return invalid("missing_ciphertext: no stored envelope for this commitment")
        if sealing.commitment(ciphertext) != envelope.commitment:
            return invalid("commitment_mismatch: the stored envelope is not the one received")
        info = sealing.envelope_info(tender_id, lot, kind.value, bidder, envelope.deadline)
        try:
            offer = sealing.decode_offer(sealing.open_envelope(key, info, ciphertext))
        except sealing.SealError as error:
            return invalid(f"{error.reason}: {error.detail}")
        documents = {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(offer.documents.items())
        }
        summary = json.dumps(
            {"documents": documents, "features": dict(sorted(offer.features.items()))},
            sort_keys=True,
            separators=(",", ":"),
        )
        if kind is not EnvelopeKind.FINANCIAL:
            return Opening(bidder, envelope.commitment, None, offer.currency, summary, "")
        # What the award criterion needs: the engine keeps the tender's declared features
        # only, checks their bounds, and ignores any other the bidder put in.
        features = tuple(
            OfferedFeature(name, value) for name, value in sorted(offer.features.items())
        )
        return Opening(
            bidder,
            envelope.commitment,
            offer.amount_minor,
            offer.currency,
            summary,
            "",
            features,
            offer.cost_minor,
        )
