"""A cheap answer to "has any connection committed since we last looked?" for a store
used from Python (the token service), read from SQLite's WAL-index header.

Why: every call of the service checks the store's freshness (its caches of tokens,
attributes and parsed keys stay valid only while nobody committed), and
``PRAGMA data_version`` through Python's sqlite3 costs about 5 us and takes the
connection's lock -- twice per signature, serialising the service's threads. The
in-process module reads the same header from C (abi/shim.c); this is the Python twin.

How (https://sqlite.org/walformat.html, "WAL-Index Header"): in WAL mode every commit of
any connection rewrites the 48-byte header at the start of the ``-shm`` file, which
SQLite maps shared; it keeps two copies, written copy 2 then copy 1, and a lock-free
reader that reads copy 1 then copy 2 may trust them when they are equal. The value
returned is a 62-bit hash of the header: a new value after every commit. The file is
mapped read-only, once, after the store's own connection created it (the store keeps
that connection open, so SQLite never deletes the file under us). When the copies keep
differing (a writer that crashed between them), or the file cannot be mapped, the probe
answers -1 and the store falls back to its own ``PRAGMA data_version``.
"""
from __future__ import annotations

import mmap
import os

from .._records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["make_probe"]

_HDR = 48
_TRIES = 100
_MASK = (1 << 62) - 1


class _ShmProbe:
    __slots__ = ("_map", "_path")

    def __init__(self, db_path: str) -> None:
        self._path = db_path + "-shm"
        self._map: mmap.mmap | None = None

    def _open(self) -> mmap.mmap | None:
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size < 2 * _HDR:
                return None
            self._map = mmap.mmap(fd, 2 * _HDR, mmap.MAP_SHARED, mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        return self._map

    def __call__(self) -> int:
        m = self._map or self._open()
        if m is None:
            return -1
        for _ in range(_TRIES):
            first = m[:_HDR]
            if first == m[_HDR:2 * _HDR]:
                return hash(first) & _MASK
        return -1


def make_probe(db_path: str) -> Callable[[], int] | None:
    """A freshness probe for the store at ``db_path`` (its ``-shm`` mapped on first use)."""
    return _ShmProbe(db_path)
