"""The per-uid connection limit (``max_connections_per_uid``) across worker processes.

A uid that opens connections until the service has no threads left hurts every other
client, and with N workers a count kept per process would let it have N times the limit.
So the supervisor makes one small table in anonymous shared memory (a memfd, gone with the
last process; nothing on disk) and hands it to every worker. Each worker writes only its
own row -- (uid, count) slots for the uids connected to it -- and admits a connection when
the sum over all rows is below the limit.

What this guarantees: a worker's own count is exact (its lock); the others' rows are read
without a lock, so two workers admitting the same uid at the same instant may together
pass the limit by at most workers - 1, which bounds the harm the limit is for. A worker
that dies has its row cleared by the supervisor before it is started again (its
connections died with it). A row with every slot taken (more distinct uids on one worker
than ``SLOTS``) counts the rest in that worker only.
"""
from __future__ import annotations

import mmap
import os
import threading
from collections import Counter

__all__ = ["SLOTS", "UidLimit", "clear_row", "make_table"]

SLOTS = 512                       # distinct uids one worker shares (8 bytes each)
_ENTRY = 2                        # u32 words per slot: uid, count


def make_table(rows: int) -> int:
    """A zeroed table for ``rows`` workers: its file descriptor (inherited by them)."""
    fd = os.memfd_create("strongroom-uid-connections", os.MFD_CLOEXEC)
    os.ftruncate(fd, rows * SLOTS * _ENTRY * 4)
    return fd


def _map(fd: int) -> tuple[mmap.mmap, memoryview]:
    mm = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    return mm, memoryview(mm).cast("I")


def clear_row(fd: int, row: int) -> None:
    """Forget a dead worker's connections (the supervisor, before restarting it)."""
    mm, words = _map(fd)
    try:
        start = row * SLOTS * _ENTRY
        for i in range(start, start + SLOTS * _ENTRY):
            words[i] = 0
    finally:
        words.release()
        mm.close()


class UidLimit:
    """admit / release of one process; shared with the other workers when ``fd`` is a
    table from make_table (``row`` this worker's index), else counted here alone."""

    def __init__(self, limit: int, fd: int | None = None, row: int = 0) -> None:
        self.limit = limit
        self._own: Counter[int] = Counter()
        self._slot: dict[int, int] = {}            # uid -> its slot in this worker's row
        self._lock = threading.Lock()
        self._mm: mmap.mmap | None = None
        self._words: memoryview | None = None
        self._rows = 0
        self._base = 0
        if fd is not None:
            self._mm, self._words = _map(fd)
            self._rows = len(self._words) // (SLOTS * _ENTRY)
            self._base = row * SLOTS * _ENTRY

    def _others(self, uid: int) -> int:
        words = self._words
        if words is None:
            return 0
        total = 0
        for row in range(self._rows):
            base = row * SLOTS * _ENTRY
            if base == self._base:
                continue
            for i in range(base, base + SLOTS * _ENTRY, _ENTRY):
                # a free slot has count 0, whatever its uid word says
                if words[i + 1] and words[i] == uid:
                    total += words[i + 1]
        return total

    def _publish(self, uid: int) -> None:
        words = self._words
        if words is None:
            return
        count = self._own[uid]
        slot = self._slot.get(uid)
        if slot is None:
            if count == 0:
                return
            used = set(self._slot.values())
            slot = next((s for s in range(SLOTS) if s not in used), None)
            if slot is None:
                return                                  # row full: this worker counts it alone
            self._slot[uid] = slot
            words[self._base + slot * _ENTRY] = uid     # uid first, then a nonzero count
        i = self._base + slot * _ENTRY
        words[i + 1] = count
        if count == 0:
            del self._slot[uid]

    def admit(self, uid: int) -> bool:
        with self._lock:
            if self._own[uid] + self._others(uid) >= self.limit:
                return False
            self._own[uid] += 1
            self._publish(uid)
            return True

    def release(self, uid: int) -> None:
        with self._lock:
            self._own[uid] -= 1
            self._publish(uid)
            if self._own[uid] <= 0:
                del self._own[uid]

    def close(self) -> None:
        if self._words is not None:
            self._words.release()
            self._words = None
        if self._mm is not None:
            self._mm.close()
            self._mm = None
