"""The websocket session: resume from a seq, stream live, take bids on the same socket.

Call order inside the Sanic handler, after the origin and the token were checked:

1. read the first frame, which must be ``subscribe`` (within ``SUBSCRIBE_TIMEOUT_S``);
2. register a :class:`~api.hub.Subscriber` (it holds live frames), send ``welcome``,
   read the log after ``since`` and :meth:`~api.hub.Subscriber.resume` with it: every
   event after ``since`` arrives exactly once, in order, then live ones;
3. three loops run until the socket closes: the writer (frames out), the reader (bids
   in, each answered by ``ack`` or ``reject`` once durable; at most ``MAX_IN_FLIGHT`` at
   a time per socket), and the heartbeat (server time and next deadline every
   ``heartbeat_s``). A subscriber whose queue overflows is closed with
   ``CLOSE_TOO_SLOW`` at once, even while its writer is stuck on a full socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from api.hub import Subscriber
from api.outcomes import new_command_id, outcome
from api.runner import RunnerError, StorageUnavailable
from api.service import Service
from api.views import Audience
from contracts import messages as m
from contracts.schema import DECIMAL_PATTERN
from engine import AcceptPrice, BidAccepted, Command, PassTurn, PlaceBid, SetProxy, WithdrawBid

__all__ = ["MAX_IN_FLIGHT", "SUBSCRIBE_TIMEOUT_S", "serve_session"]

# The encoder of contracts.messages.to_json (compact, UTF-8 kept), built once.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

log = logging.getLogger("gavel.ws")

SUBSCRIBE_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 16


async def serve_session(
    ws: Any,
    service: Service,
    auction_id: str,
    audience: Audience,
    *,
    queue_limit: int,
    heartbeat_s: float,
    on_result: Callable[[bool, str | None], None] = lambda accepted, reason: None,
    on_slow: Callable[[], None] = lambda: None,
) -> None:
    """Run one connection to its end. ``ws`` is a Sanic/websockets connection."""
    clock = service.clock
    try:
        first = await asyncio.wait_for(ws.recv(), SUBSCRIBE_TIMEOUT_S)
        hello = m.from_json(first) if first is not None else None
    except (TimeoutError, m.MessageError) as error:
        detail = getattr(error, "detail", "expected a subscribe message first")
        await ws.close(m.CLOSE_PROTOCOL_ERROR, detail[:120])
        return
    if not isinstance(hello, m.Subscribe) or hello.since < 0:
        await ws.close(m.CLOSE_PROTOCOL_ERROR, "the first message must be subscribe")
        return
    runner = await service.runner(auction_id)
    if runner is None:
        await ws.close(m.CLOSE_PROTOCOL_ERROR, "unknown auction")
        return
    channel = service.hub.channel(auction_id)
    if hello.since > channel.head:
        # Nobody can have seen a seq beyond the log; streaming would silently drop every
        # event up to ``since`` (the dedup), so say so instead.
        await ws.close(m.CLOSE_PROTOCOL_ERROR, f"since is beyond the log (seq {channel.head})")
        return
    subscriber = Subscriber(audience, since=hello.since, limit=queue_limit)
    channel.subscribers.add(subscriber)
    try:
        you = channel.views.labels.get(audience.party or "") if audience.role == "bidder" else None
        welcome = m.Welcome(m.PROTOCOL, auction_id, audience.role, you, channel.head, clock())
        await ws.send(m.to_json(welcome))
        history = await service.history(auction_id, hello.since)
        subscriber.resume([(event.seq, channel.frame(event, audience)) for event in history])
        tasks = [
            asyncio.create_task(_write(ws, subscriber)),
            asyncio.create_task(subscriber.dropped()),
            asyncio.create_task(_read(ws, service, auction_id, audience, subscriber, on_result)),
            asyncio.create_task(_beat(service, auction_id, subscriber, heartbeat_s)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
        if subscriber.too_slow:
            # The writer may have been stuck in a send to a peer that stopped reading
            # (cancelled above); ``close()`` would wait for the same full buffer. So the
            # close frame is queued behind the unread data without waiting, and the
            # transport is closed (or aborted after Sanic's close timeout).
            on_slow()
            ws.end_connection(m.CLOSE_TOO_SLOW, f"too slow: resume from seq {subscriber.sent}")
    finally:
        channel.subscribers.discard(subscriber)
        subscriber.close()


async def _write(ws: Any, subscriber: Subscriber) -> None:
    while True:
        frame = await subscriber.next()
        if frame is None:
            return
        await ws.send(frame)
        subscriber.mark_sent()


async def _beat(service: Service, auction_id: str, subscriber: Subscriber, every: float) -> None:
    channel = service.hub.channel(auction_id)
    while True:
        await asyncio.sleep(every)
        deadline = channel.committed.next_deadline()
        subscriber.send_direct(m.to_json(m.Heartbeat(channel.head, service.clock(), deadline)))


async def _read(
    ws: Any,
    service: Service,
    auction_id: str,
    audience: Audience,
    subscriber: Subscriber,
    on_result: Callable[[bool, str | None], None],
) -> None:
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()
    clock = service.clock
    channel = service.hub.channel(auction_id)
    while True:
        raw = await ws.recv()
        if raw is None:
            return
        try:
            message = m.from_json(raw)
        except m.MessageError as error:
            frame = m.ErrorMessage(error.code, error.detail, channel.head, clock())
            subscriber.send_direct(m.to_json(frame))
            continue
        if isinstance(message, m.Subscribe):
            frame = m.ErrorMessage("already_subscribed", "subscribe once", channel.head, clock())
            subscriber.send_direct(m.to_json(frame))
            continue
        request_id = message.request_id
        if audience.role != "bidder" or audience.party is None:
            subscriber.send_direct(
                m.to_json(
                    m.Reject(request_id, "forbidden", "only bidders bid", channel.head, clock())
                )
            )
            continue
        try:
            make, command_id = _factory(message, audience.party)
        except ValueError:
            reject = m.Reject(request_id, "amount_invalid", "not a decimal", channel.head, clock())
            subscriber.send_direct(m.to_json(reject))
            continue
        await in_flight.acquire()
        task = asyncio.create_task(
            _submit(
                service, auction_id, audience, subscriber, request_id, make, command_id, on_result
            )
        )
        pending.add(task)
        task.add_done_callback(pending.discard)
        task.add_done_callback(lambda _: in_flight.release())


async def _submit(
    service: Service,
    auction_id: str,
    audience: Audience,
    subscriber: Subscriber,
    request_id: str,
    make: Callable[[int], Command],
    command_id: str,
    on_result: Callable[[bool, str | None], None],
) -> None:
    channel = service.hub.channel(auction_id)
    try:
        events = await service.submit(auction_id, make)
    except RunnerError as error:
        code = "storage_unavailable" if isinstance(error, StorageUnavailable) else "unavailable"
        frame = m.Reject(request_id, code, str(error), channel.head, service.clock())
        subscriber.send_direct(m.to_json(frame))
        return
    result = outcome(events, command_id)
    if result.rejected is not None:
        rejected = result.rejected
        on_result(False, rejected.reason.value)
        frame: Any = m.Reject(
            request_id, rejected.reason.value, rejected.detail, rejected.seq, rejected.at
        )
    else:
        accepted = result.accepted
        assert accepted is not None
        if isinstance(accepted, BidAccepted):
            # Counted as the HTTP edge does: proxies, withdrawals and passes are no bids.
            on_result(True, None)
        data = channel.views.render(accepted, audience)
        # The text of to_json(m.Ack(...)) in Ack's field order, without the deep copy of
        # ``data`` that to_json's dataclasses.asdict makes (4% of the server's time in
        # the bench service storm profile).
        ack = {
            "request_id": request_id,
            "seq": accepted.seq,
            "server_time": accepted.at,
            "event": data,
            "type": "ack",
        }
        subscriber.send_direct(_encode(ack))
        return
    subscriber.send_direct(m.to_json(frame))


def _decimal(text: str | None) -> Decimal | None:
    # The same plain notation the HTTP bodies and the JSON Schemas require: no exponents,
    # NaN, Infinity or non-ASCII digits, which Decimal() alone would accept.
    if text is None:
        return None
    if len(text) > 64 or _PLAIN_DECIMAL.fullmatch(text) is None:
        raise ValueError(text)
    return Decimal(text)


_PLAIN_DECIMAL = re.compile(DECIMAL_PATTERN.strip("^$"), re.ASCII)


def _factory(message: Any, party: str) -> tuple[Callable[[int], Command], str]:
    """The command factory for a bidder's message, and its command id."""
    cid = new_command_id("ws")
    if isinstance(message, m.Bid):
        amount = _decimal(message.amount)
        assert amount is not None
        currency = message.currency
        return (lambda at: PlaceBid(cid, at, party, amount, currency)), cid
    if isinstance(message, m.Proxy):
        limit = _decimal(message.limit)
        assert limit is not None
        currency = message.currency
        return (lambda at: SetProxy(cid, at, party, limit, currency)), cid
    if isinstance(message, m.Accept):
        expected = _decimal(message.expected)
        currency_or_none = message.currency
        return (lambda at: AcceptPrice(cid, at, party, expected, currency_or_none)), cid
    if isinstance(message, m.Withdraw):
        return (lambda at: WithdrawBid(cid, at, party)), cid
    assert isinstance(message, m.Pass)
    return (lambda at: PassTurn(cid, at, party)), cid
