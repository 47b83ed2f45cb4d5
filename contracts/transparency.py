"""The Merkle tree of an event log, as RFC 9162 (Certificate Transparency 2.0) §2.1 defines it.

Every auction (and, later, every tender) has one log: its events' canonical bytes
(:mod:`contracts.canonical`) in seq order are the leaves ``D[0:n]``. Hashes are SHA-256:

- the empty tree: ``MTH({}) = SHA-256()``;
- a leaf: ``MTH({d}) = SHA-256(0x00 || d)`` (:func:`leaf_hash`);
- ``n > 1`` leaves: with ``k`` the largest power of two smaller than ``n``,
  ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` (:func:`node_hash`).

What is here:

- :func:`root`: the tree hash of a list of leaves, O(n).
- :class:`Frontier`: the compact range of a growing tree (one hash per set bit of the
  size): append is amortized O(1) hashes, :meth:`Frontier.root` O(log n), memory O(log n).
  What a verifier streaming a million events keeps.
- :class:`MerkleLog`: every complete subtree's hash, so the root of any earlier size, an
  inclusion proof (RFC 9162 §2.1.3.1) and a consistency proof (§2.1.4.1) each cost
  O(log² n) hashes at most, usually O(log n). What a server keeps per log. Memory 2n hashes.
- :func:`verify_inclusion` and :func:`verify_consistency`: the verification algorithms of
  §2.1.3.2 and §2.1.4.2, step by step; they return ``False`` on any mismatch and raise
  nothing for well-typed input.

Sizes and indices are Python ints; a proof is a tuple of 32-byte hashes, ordered from the
leaf upwards as the RFC prints them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MerkleLog",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: The tree hash of the empty log: SHA-256 of no bytes.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf. O(len(data))."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node. O(1)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``). O(1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Iterable[bytes]) -> bytes:
    """``MTH(leaves)``: the tree hash of the leaves' data, in order. O(n) hashes."""
    frontier = Frontier()
    for data in leaves:
        frontier.append(leaf_hash(data))
    return frontier.root()


class Frontier:
    """The compact frontier of a growing tree: one complete subtree hash per set bit of
    the size, largest (leftmost) first.

    :meth:`append` takes a *leaf hash* (``leaf_hash(data)``) and merges equal-sized
    subtrees as a binary counter carries: amortized O(1) hashes, worst case O(log n).
    :meth:`root` folds the frontier right to left in O(log n) hashes; by the RFC's split
    rule that fold is exactly ``MTH``. Memory O(log n).
    """

    __slots__ = ("_hashes", "size")

    def __init__(self) -> None:
        self.size = 0
        self._hashes: list[bytes] = []

    def append(self, hashed: bytes) -> None:
        """Append one leaf given by its leaf hash. Amortized O(1)."""
        hashes = self._hashes
        size = self.size
        while size & 1:
            hashed = node_hash(hashes.pop(), hashed)
            size >>= 1
        hashes.append(hashed)
        self.size += 1

    def root(self) -> bytes:
        """The tree hash of the ``size`` leaves appended so far. O(log n)."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        acc = hashes[-1]
        for hashed in reversed(hashes[:-1]):
            acc = node_hash(hashed, acc)
        return acc


class MerkleLog:
    """An append-only log that can prove what it holds.

    ``levels[h][i]`` is the hash of the complete subtree of leaves
    ``[i * 2**h, (i + 1) * 2**h)``; an append adds one leaf hash and carries up like a
    binary counter (amortized O(1) hashes). Every subtree the RFC's recursion visits is
    aligned, so its hash is a stored complete subtree or splits into O(log n) of them.

    Call order: :meth:`append` (or construct from ``leaves``), then any of
    :meth:`root`, :meth:`inclusion_proof`, :meth:`consistency_proof` for any size up to
    :attr:`size`. Sizes beyond the log raise :class:`ValueError`.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for data in leaves:
            self.append(data)

    @property
    def size(self) -> int:
        """The number of leaves. O(1)."""
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append a leaf's data; return its index. Amortized O(1) hashes."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, hashed: bytes) -> int:
        """Append a leaf given by its leaf hash; return its index. Amortized O(1)."""
        levels = self._levels
        index = len(levels[0])
        levels[0].append(hashed)
        height, position = 0, index
        while position & 1:
            level = levels[height]
            parent = node_hash(level[position - 1], level[position])
            height += 1
            position >>= 1
            if height == len(levels):
                levels.append([])
            levels[height].append(parent)
        return index

    def leaf_hash(self, index: int) -> bytes:
        """The stored hash of leaf ``index``. O(1)."""
        self._check(index + 1)
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """``MTH`` of the first ``size`` leaves (all by default). O(log n)."""
        size = self.size if size is None else size
        self._check(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> tuple[bytes, ...]:
        """``PATH(index, D[0:size])`` of RFC 9162 §2.1.3.1, leaf side first.

        Raises :class:`ValueError` unless ``0 <= index < size <= self.size``.
        O(log n) hashes read, at most O(log² n) computed.
        """
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo += k
        path.reverse()
        return tuple(path)

    def consistency_proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        """``PROOF(old_size, D[0:new_size])`` of RFC 9162 §2.1.4.1.

        Empty when ``old_size`` is 0 or equals ``new_size``. Raises :class:`ValueError`
        unless ``0 <= old_size <= new_size <= self.size``. O(log n) hashes read.
        """
        self._check(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size == 0 or old_size == new_size:
            return ()
        path: list[bytes] = []
        lo, hi, whole = 0, new_size, True
        m = old_size
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo += k
                m -= k
                whole = False
        if not whole:
            path.append(self._hash(lo, hi))
        path.reverse()
        return tuple(path)

    def _check(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is beyond the log's {self.size} leaves")

    def _hash(self, lo: int, hi: int) -> bytes:
        """``MTH(D[lo:hi])`` for a range the RFC's recursion visits (aligned)."""
        width = hi - lo
        if width & (width - 1) == 0:
            height = width.bit_length() - 1
            return self._levels[height][lo >> height]
        k = _split(width)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))


def _valid_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf with hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose hash is ``expected_root`` (RFC 9162 §2.1.3.2). O(len(proof)).

    ``leaf`` is the *leaf hash* (``leaf_hash(data)``), not the data.
    """
    if not 0 <= index < size or not _valid_hash(leaf) or not _valid_hash(expected_root):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0 or not _valid_hash(p):
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` leaves hashing to ``old_root`` is a
    prefix of the tree of ``new_size`` leaves hashing to ``new_root`` (RFC 9162 §2.1.4.2).
    O(len(proof)).

    The RFC's algorithm starts from a non-empty proof; the two cases whose proof is
    empty are decided here first: ``old_size == 0`` (every tree extends the empty one,
    ``old_root`` must be :data:`EMPTY_ROOT`) and ``old_size == new_size`` (the roots
    must be equal).
    """
    if not 0 <= old_size <= new_size or not _valid_hash(old_root) or not _valid_hash(new_root):
        return False
    if any(not _valid_hash(p) for p in proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
