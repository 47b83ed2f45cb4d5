"""The in-memory revocation list (:mod:`api.access.revocations`), shared by the core and edges."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.access import auth
from api.access.revocations import LONGEST_TOKEN_US, Revocations

NOW = 1_800_000_000_000_000
LEEWAY_US = auth.DEFAULT_LEEWAY_S * 1_000_000


class Socket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    def end_connection(self, code: int, reason: str) -> None:
        assert self.closed is None, "closed twice"
        self.closed = (code, reason)


def test_revoking_closes_the_sockets_of_that_token_only() -> None:
    revoked = Revocations()
    mine, also_mine, other = Socket(), Socket(), Socket()
    revoked.close_on_revoke(mine, "jti-1")
    revoked.close_on_revoke(also_mine, "jti-1")
    revoked.close_on_revoke(other, "jti-2")
    assert revoked.add("jti-1", NOW, NOW + 10**9) is True
    assert mine.closed == also_mine.closed == (4401, "token_revoked")
    assert other.closed is None
    assert "jti-1" in revoked and "jti-2" not in revoked
    # Known already (say, our own revocation heard back as a notification): nothing more.
    assert revoked.add("jti-1", NOW) is False
    revoked._check()


def test_a_released_socket_is_not_closed() -> None:
    revoked = Revocations()
    gone = Socket()
    release = revoked.close_on_revoke(gone, "jti-1")
    release()
    release()  # twice is harmless
    revoked.add("jti-1", NOW)
    assert gone.closed is None
    revoked._check()


def test_a_socket_registered_after_its_revocation_closes_at_once() -> None:
    revoked = Revocations()
    revoked.add("jti-1", NOW)
    late = Socket()
    release = revoked.close_on_revoke(late, "jti-1")
    assert late.closed == (4401, "token_revoked")
    release()
    revoked._check()


def test_a_reload_closes_the_sockets_of_tokens_revoked_meanwhile() -> None:
    # After a listener reconnects, the table is read again: what was revoked while it
    # could not hear closes its sockets now; what was known changes nothing.
    revoked = Revocations()
    assert revoked.load({"jti-1": NOW + 10**9}) == 1
    missed, kept = Socket(), Socket()
    revoked.close_on_revoke(missed, "jti-2")
    revoked.close_on_revoke(kept, "jti-3")
    assert revoked.load({"jti-1": NOW + 10**9, "jti-2": NOW + 10**9}) == 1
    assert missed.closed == (4401, "token_revoked") and kept.closed is None
    assert revoked.load({"jti-2": NOW + 10**9}) == 0
    revoked._check()


def test_entries_live_until_their_token_expires() -> None:
    revoked = Revocations()
    revoked.load({"loaded": NOW + 10, "expired": NOW - LEEWAY_US - 1})
    assert len(revoked) == 2
    revoked.prune(NOW)
    assert "loaded" in revoked and "expired" not in revoked
    revoked.add("with-expiry", NOW, NOW + 20)
    revoked.add("heard", NOW)  # expiry unknown: the longest token life
    assert len(revoked) == 3
    # Past an expiry plus the verifier's leeway the entry goes (a token is refused for
    # that long after its exp anyway).
    revoked.prune(NOW + 20 + LEEWAY_US)
    assert "loaded" not in revoked and "with-expiry" not in revoked and "heard" in revoked
    revoked.add("new", NOW + LONGEST_TOKEN_US + LEEWAY_US)  # add prunes too
    assert "heard" not in revoked and len(revoked) == 1


@given(
    st.lists(st.tuples(st.sampled_from(["add", "open", "release"]), st.integers(0, 3)), max_size=40)
)
def test_any_sequence_keeps_the_invariants(steps: list[tuple[str, int]]) -> None:
    revoked = Revocations()
    open_sockets: list[tuple[Socket, str, object]] = []
    for action, number in steps:
        jti = f"jti-{number}"
        if action == "add":
            revoked.add(jti, NOW)
        elif action == "open":
            ws = Socket()
            open_sockets.append((ws, jti, revoked.close_on_revoke(ws, jti)))
        elif open_sockets:
            ws, _, release = open_sockets.pop(number % len(open_sockets))
            release()  # type: ignore[operator]
        revoked._check()
        # Every socket still open is closed exactly when its token is revoked.
        for ws, held, _ in open_sockets:
            assert (ws.closed is not None) == (held in revoked)


async def test_a_reload_keeps_tokens_that_still_verify_within_the_leeway(
    pg_pool: Any, pg_dsn: str
) -> None:
    # The verifier admits a token until exp + leeway: a token revoked while this process
    # was not listening, and expired a moment ago, must be on the list a (re)connection
    # reads, or it is admitted again for up to the leeway.
    import time

    from api.access.revocations import keep_current
    from api.storage.tokens import PostgresTokenStore, TokenRow

    store = PostgresTokenStore(pg_pool)
    now = time.time_ns() // 1000
    just_expired = now - 2_000_000  # 2 s ago: auth.verify still admits it
    assert now // 1_000_000 < just_expired // 1_000_000 + auth.DEFAULT_LEEWAY_S
    await store.record([TokenRow("t-late", "acme", "bidder", "a-1", now - 10**9, just_expired)])
    await store.revoke("t-late", at=now, by="boss")
    revoked = Revocations()
    listener = keep_current(revoked, store, pg_dsn, name="test")
    await listener.start()
    try:
        assert "t-late" in revoked
    finally:
        await listener.stop()
