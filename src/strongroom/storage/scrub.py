"""The store's WAL journal: entering it when several processes open a new file at once
(``enable_wal``), and the truncating checkpoint that takes dropped secrets out of the
store's files.

Why a checkpoint (sqlite.py's module text, docs/design.md "What is scrubbed"): in WAL
mode ``secure_delete`` zeroes only the *new* version of a page, appended to ``-wal``;
the older versions (old wraps, destroyed objects) stay in earlier frames and in the main
file until a checkpoint copies the zeroed pages over them and the WAL is cut to 0 bytes.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import suppress

from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError

_POLL_S = 0.0005


def truncate_wal(conn: sqlite3.Connection, wait_s: float, busy_ms: int) -> bool:
    """Copy the newest (zeroed) pages into the main file and cut the WAL to 0 bytes;
    False if another process's reader still held old frames after ``wait_s``.

    ``PRAGMA wal_checkpoint(TRUNCATE)`` cannot finish while a reader of another
    process still uses older WAL frames (https://sqlite.org/pragma.html#pragma_wal_checkpoint,
    https://sqlite.org/c3ref/wal_checkpoint_v2.html). Readers of a token hold their
    snapshot for microseconds, so it is retried every ``_POLL_S`` (without SQLite's busy
    handler, whose back-off sleeps up to 100 ms at a time) for up to ``wait_s``. Needs
    no transaction open on ``conn``; its busy timeout is put back to ``busy_ms``."""
    deadline = time.monotonic() + wait_s
    busy = 1
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        while True:
            try:
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.Error:          # SQLITE_BUSY / LOCKED: as busy, retried
                busy = 1
            if not busy or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
    except sqlite3.Error:
        busy = 1
    finally:
        with suppress(sqlite3.Error):
            conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    return not busy


def enable_wal(conn: sqlite3.Connection, wait_s: float) -> None:
    """Switch ``conn``'s database to WAL, waiting up to ``wait_s`` for other openers.

    Changing the journal mode of a new database needs its exclusive lock, and SQLite
    answers SQLITE_BUSY at once, without its busy handler, when another process is
    opening the same file (two service workers starting together). The switch is
    retried until the deadline; once one opener has made the file WAL the others'
    pragma is a no-op and succeeds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.002)
    if str(mode).lower() != "wal":
        raise CKRError(CKR.DEVICE_ERROR, "storage: cannot enable WAL")
