"""The RFC 9162 Merkle tree: hand-computed trees, known vectors, every small (index, size)
against a second, deliberately naive implementation written here straight from the RFC's
recursive definitions, tampered proofs, and Hypothesis."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.transparency import (
    EMPTY_ROOT,
    Frontier,
    MerkleLog,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------- the naive reference
# RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed literally: recursion on slices,
# hashlib directly, nothing shared with contracts.transparency.


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _sha(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    return naive_subproof(m, d, True)


def naive_path_root(leaf: bytes, m: int, n: int, path: list[bytes]) -> bytes:
    """Recompute the root from an inclusion path by walking the same recursion down."""
    if n == 1:
        assert not path
        return leaf
    k = 1
    while k * 2 < n:
        k *= 2
    *rest, sibling = path
    if m < k:
        return _sha(b"\x01" + naive_path_root(leaf, m, k, rest) + sibling)
    return _sha(b"\x01" + sibling + naive_path_root(leaf, m - k, n - k, rest))


LEAVES = [b"event %d" % i for i in range(41)]
FULL = MerkleLog(LEAVES)


# ------------------------------------------------------------------- hand-computed


def test_hashes_have_their_domain_prefixes() -> None:
    assert leaf_hash(b"x") == _sha(b"\x00x")
    assert node_hash(b"a" * 32, b"b" * 32) == _sha(b"\x01" + b"a" * 32 + b"b" * 32)
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_small_trees_by_hand() -> None:
    a, b, c, d, e = (leaf_hash(x) for x in (b"a", b"b", b"c", b"d", b"e"))
    assert root([]) == EMPTY_ROOT
    assert root([b"a"]) == a
    assert root([b"a", b"b"]) == node_hash(a, b)
    assert root([b"a", b"b", b"c"]) == node_hash(node_hash(a, b), c)
    ab_cd = node_hash(node_hash(a, b), node_hash(c, d))
    assert root([b"a", b"b", b"c", b"d"]) == ab_cd
    assert root([b"a", b"b", b"c", b"d", b"e"]) == node_hash(ab_cd, e)
    log = MerkleLog([b"a", b"b", b"c", b"d", b"e"])
    # The RFC's own example shapes: the path of c in 5 leaves is d, ab, e.
    assert log.inclusion_proof(2, 5) == (d, node_hash(a, b), e)
    assert log.inclusion_proof(4, 5) == (ab_cd,)
    # Consistency 3 -> 4: c, d, ab  (old tree ab|c is not a complete subtree).
    assert log.consistency_proof(3, 4) == (c, d, node_hash(a, b))
    # 2 -> 5: ab is complete, so only cd and e follow.
    assert log.consistency_proof(2, 5) == (node_hash(c, d), e)


# The RFC 6962 reference test data (also used by Go's transparency-dev/merkle tests):
# eight leaves and the root of each prefix.
KNOWN_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
KNOWN_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(1, 9))
def test_known_roots(size: int) -> None:
    assert root(KNOWN_LEAVES[:size]).hex() == KNOWN_ROOTS[size - 1]
    assert MerkleLog(KNOWN_LEAVES).root(size).hex() == KNOWN_ROOTS[size - 1]


# ------------------------------------------------------------ against the naive one


@pytest.mark.parametrize("size", range(0, 42))
def test_roots_match_the_naive_definition(size: int) -> None:
    expected = naive_mth(LEAVES[:size])
    assert root(LEAVES[:size]) == expected
    assert FULL.root(size) == expected
    assert MerkleLog(LEAVES[:size]).root() == expected
    frontier = Frontier()
    for data in LEAVES[:size]:
        frontier.append(leaf_hash(data))
    assert frontier.size == size
    assert frontier.root() == expected


@pytest.mark.parametrize("size", range(1, 42))
def test_every_inclusion_proof_matches_and_verifies(size: int) -> None:
    top = FULL.root(size)
    for index in range(size):
        proof = FULL.inclusion_proof(index, size)
        assert list(proof) == naive_path(index, LEAVES[:size])
        leaf = leaf_hash(LEAVES[index])
        assert naive_path_root(leaf, index, size, list(proof)) == top
        assert verify_inclusion(leaf, index, size, proof, top)
        # The wrong leaf, index or root never verifies.
        assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, top)
        # (A different size may share the path's shape, so it is not tested here.)
        assert not verify_inclusion(leaf, index, 2 * size + 1, proof, top)
        if size > 1:
            assert not verify_inclusion(leaf, (index + 1) % size, size, proof, top)
        assert not verify_inclusion(leaf, index, size, proof, FULL.root(size - 1))


@pytest.mark.parametrize("new", range(0, 42))
def test_every_consistency_proof_matches_and_verifies(new: int) -> None:
    new_root = FULL.root(new)
    for old in range(0, new + 1):
        proof = FULL.consistency_proof(old, new)
        expected = naive_proof(old, LEAVES[:new]) if old > 0 else []
        assert list(proof) == expected
        old_root = FULL.root(old)
        assert verify_consistency(old, new, old_root, new_root, proof)
        if 0 < old < new:
            assert not verify_consistency(old, new, leaf_hash(b"x"), new_root, proof)
            assert not verify_consistency(old, new, old_root, leaf_hash(b"x"), proof)
            assert not verify_consistency(old, 2 * new + 1, old_root, new_root, proof)
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            assert not verify_consistency(old, new, old_root, new_root, ())


def test_every_tampered_proof_hash_is_rejected() -> None:
    for size in range(2, 20):
        top = FULL.root(size)
        for index in range(size):
            proof = FULL.inclusion_proof(index, size)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
                assert not verify_inclusion(leaf_hash(LEAVES[index]), index, size, bad, top)
            assert not verify_inclusion(leaf_hash(LEAVES[index]), index, size, (*proof, top), top)
        for old in range(1, size):
            proof = FULL.consistency_proof(old, size)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
                assert not verify_consistency(old, size, FULL.root(old), top, bad)
            assert not verify_consistency(old, size, FULL.root(old), top, (*proof, top))


def test_degenerate_inputs_are_refused_not_raised() -> None:
    top = FULL.root(4)
    leaf = leaf_hash(LEAVES[0])
    proof = FULL.inclusion_proof(0, 4)
    assert not verify_inclusion(leaf, 4, 4, proof, top)
    assert not verify_inclusion(leaf, -1, 4, proof, top)
    assert not verify_inclusion(leaf, 0, 0, (), EMPTY_ROOT)
    assert not verify_inclusion(b"short", 0, 4, proof, top)
    assert not verify_inclusion(leaf, 0, 4, (b"short", *proof[1:]), top)
    assert not verify_inclusion(leaf, 0, 4, proof, b"short")
    assert verify_inclusion(leaf, 0, 1, (), leaf)
    assert not verify_inclusion(leaf, 0, 1, (leaf,), leaf)
    assert not verify_consistency(5, 4, top, top, ())
    assert not verify_consistency(0, 4, top, top, ())
    assert not verify_consistency(0, 4, EMPTY_ROOT, top, (top,))
    assert verify_consistency(0, 4, EMPTY_ROOT, top, ())
    assert verify_consistency(4, 4, top, top, ())
    assert not verify_consistency(4, 4, top, FULL.root(3), ())
    assert not verify_consistency(4, 4, top, top, (top,))
    assert not verify_consistency(2, 4, b"short", top, FULL.consistency_proof(2, 4))
    assert not verify_consistency(2, 4, FULL.root(2), top, (b"short",))


def test_log_refuses_sizes_it_does_not_hold() -> None:
    log = MerkleLog([b"a", b"b", b"c"])
    with pytest.raises(ValueError):
        log.root(4)
    with pytest.raises(ValueError):
        log.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        log.inclusion_proof(0, 4)
    with pytest.raises(ValueError):
        log.consistency_proof(3, 2)
    with pytest.raises(ValueError):
        log.consistency_proof(1, 4)
    with pytest.raises(ValueError):
        log.leaf_hash(3)
    assert log.leaf_hash(2) == leaf_hash(b"c")
    assert log.append(b"d") == 3
    assert log.size == 4


# ------------------------------------------------------------------------ Hypothesis


@settings(deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=80), st.data())
def test_random_logs_prove_what_they_hold(leaves: list[bytes], data: st.DataObject) -> None:
    log = MerkleLog(leaves)
    n = len(leaves)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    assert log.root(size) == naive_mth(leaves[:size])
    proof = log.inclusion_proof(index, size)
    assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, log.root(size))
    consistency = log.consistency_proof(old, size)
    assert verify_consistency(old, size, log.root(old), log.root(size), consistency)


@settings(deadline=None)
@given(
    st.lists(st.binary(max_size=8), min_size=2, max_size=40),
    st.lists(st.binary(max_size=8), min_size=1, max_size=40),
    st.data(),
)
def test_a_forked_log_is_never_consistent(
    prefix: list[bytes], rest: list[bytes], data: st.DataObject
) -> None:
    """Changing any one leaf of the old tree breaks consistency with the honest new tree."""
    old = len(prefix)
    honest = MerkleLog(prefix + rest)
    where = data.draw(st.integers(0, old - 1))
    forged = list(prefix)
    forged[where] = forged[where] + b"!"
    forged_root = MerkleLog(forged).root()
    proof = honest.consistency_proof(old, honest.size)
    assert not verify_consistency(old, honest.size, forged_root, honest.root(), proof)
