""":class:`api.live.flag.Flag`: an ``asyncio.Event`` in behaviour, without its deque."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from api.live.flag import Flag


async def test_a_flag_behaves_as_an_event() -> None:
    flag = Flag()
    assert isinstance(flag, asyncio.Event) and not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    waiters[0].cancel()  # one waiter leaving wakes no other and breaks nothing
    await asyncio.sleep(0)
    flag.set()
    assert flag.is_set()
    assert await asyncio.gather(*waiters[1:]) == [True, True]
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    assert await flag.wait() is True  # set: at once
    flag.clear()
    assert not flag.is_set()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not late.done()
    flag.set()
    flag.set()  # idempotent
    assert await late is True
    assert flag._waiting == []  # waiters remove themselves
    assert "set" in repr(flag)


def test_a_flag_costs_a_fraction_of_an_event() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        events = [asyncio.Event() for _ in range(100)]
        middle = tracemalloc.get_traced_memory()[0]
        flags = [Flag() for _ in range(100)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(events) == len(flags)
    # An event holds a deque (760 bytes on CPython 3.11); a flag, two slots.
    assert (after - middle) * 3 < middle - before
