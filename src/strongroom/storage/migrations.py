"""Schema versions and their migrations.

``MIGRATIONS[i]`` takes the database from version ``i`` to ``i + 1``. Every pending
migration runs in one transaction together with the version bump, so a crash leaves
the old version intact. Before migrating a file that already holds data (version >= 1)
a copy ``<db>.bak-v<N>`` is made and removed only after the commit (field notes:
"keep the old file until the new one is committed"). A future schema change is just a
new entry appended here; never edit an entry that has shipped.
"""
from __future__ import annotations

import os
import sqlite3

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError

if TYPE_CHECKING:
    from collections.abc import Callable


_V1 = """
CREATE TABLE tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    slot_id         INTEGER NOT NULL UNIQUE,
    serial          TEXT    NOT NULL UNIQUE,
    label           TEXT    NOT NULL,
    uuid            BLOB    NOT NULL,
    public_seal_key BLOB    NOT NULL,   -- in the clear by design: see sealing.py
    key_check       BLOB    NOT NULL,   -- kdf.key_check(master key, uuid)
    so_wrap         BLOB    NOT NULL,
    so_salt         BLOB    NOT NULL,
    so_log2_n       INTEGER NOT NULL,
    so_r            INTEGER NOT NULL,
    so_p            INTEGER NOT NULL,
    user_wrap       BLOB,               -- NULL until C_InitPIN
    user_salt       BLOB,
    user_log2_n     INTEGER,
    user_r          INTEGER,
    user_p          INTEGER,
    user_failures   INTEGER NOT NULL DEFAULT 0,
    so_failures     INTEGER NOT NULL DEFAULT 0,
    object_count    INTEGER NOT NULL DEFAULT 0,  -- kept by triggers below
    bytes_used      INTEGER NOT NULL DEFAULT 0,
    created         TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE objects (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: ids never reused
    token_id  INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    uid       BLOB    NOT NULL,                    -- 16 random bytes, part of seal AAD
    private   INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    manifest  BLOB                                 -- sealed type list (private objects)
);
CREATE INDEX objects_token ON objects(token_id, private);
CREATE TABLE attributes (
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    type      INTEGER NOT NULL,
    value     BLOB    NOT NULL,
    sealed    INTEGER NOT NULL,
    PRIMARY KEY (object_id, type)
) WITHOUT ROWID;
CREATE TABLE find_index (
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    token_id  INTEGER NOT NULL,
    type      INTEGER NOT NULL,
    digest    BLOB    NOT NULL,
    PRIMARY KEY (object_id, type)
) WITHOUT ROWID;
CREATE INDEX find_index_digest ON find_index(token_id, digest);
CREATE TRIGGER objects_ins AFTER INSERT ON objects BEGIN
    UPDATE tokens SET object_count = object_count + 1, bytes_used = bytes_used + NEW.size
    WHERE id = NEW.token_id;
END;
CREATE TRIGGER objects_del AFTER DELETE ON objects BEGIN
    UPDATE tokens SET object_count = object_count - 1, bytes_used = bytes_used - OLD.size
    WHERE id = OLD.token_id;
END;
CREATE TRIGGER objects_upd AFTER UPDATE OF size ON objects BEGIN
    UPDATE tokens SET bytes_used = bytes_used - OLD.size + NEW.size WHERE id = NEW.token_id;
END;
"""

# 1 -> 2: PIN attempts in flight (token/login.py). An attempt is spent (counted as a
# failure) before scrypt runs and settled afterwards; ``*_pending`` counts the attempts
# spent but not yet settled and ``*_spent_at`` (unix time) dates the latest spend, so a
# caller who finds no tries left can tell "others are still checking their PIN" (wait
# for their outcome) from "locked". Settling also rewrites ``*_pending``, so a right and
# a wrong PIN write the same row the same way.
_V2 = """
ALTER TABLE tokens ADD COLUMN user_pending  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN so_pending    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN user_spent_at REAL    NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN so_spent_at   REAL    NOT NULL DEFAULT 0;
"""

# Until schema 2 every key was stored with CKA_ALLOWED_MECHANISMS = () (the schema's old
# default), which then meant "any mechanism"; it now means "none" (v3.0 §4.7 table 25 —
# an absent attribute allows all). Objects that existed at the upgrade keep their meaning:
# the store reads their empty list as absent (sqlite.py, _read). Object ids only grow
# (AUTOINCREMENT), so the largest id at the upgrade marks them; new stores get 0.
_V3 = """
ALTER TABLE tokens ADD COLUMN legacy_allowed_max_id INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET legacy_allowed_max_id =
    (SELECT coalesce(max(id), 0) FROM objects WHERE objects.token_id = tokens.id);
"""

if TYPE_CHECKING:
    Migration = Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Migration:
    """A migration made of plain statements (executed one by one inside the caller's
    transaction; executescript would COMMIT first)."""
    def run(conn: sqlite3.Connection) -> None:
        for stmt in _split(sql):
            conn.execute(stmt)
    return run


def _split(sql: str) -> list[str]:
    """Split on ';' at statement ends, keeping trigger bodies (BEGIN ... END;) whole."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        code = line.split("--", 1)[0]
        buf += code
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


MIGRATIONS: list[Migration] = [
    _script(_V1),   # 0 -> 1: initial schema
    _script(_V2),   # 1 -> 2: PIN attempts in flight
    _script(_V3),   # 2 -> 3: empty CKA_ALLOWED_MECHANISMS of older objects read as absent
]
LATEST = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if row is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database to LATEST; returns the version found. Idempotent and safe
    against another process migrating or writing at the same time.

    The backup is taken just before the write lock (SQLite cannot back up from a
    connection that holds one); if anyone committed in between, data_version moves and
    we start over, so the copy is always of the state being migrated."""
    while True:
        found = _version(conn)
        if found == LATEST:
            _remove_stale_backups(path)
            return LATEST
        if found > LATEST:
            raise CKRError(CKR.DEVICE_ERROR,
                           f"database schema version {found} is newer than supported {LATEST}")
        backup = f"{path}.bak-v{found}" if found >= 1 else None
        seen = _data_version(conn)
        if backup is not None:
            _copy(conn, backup)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _data_version(conn) != seen or _version(conn) != found:
                conn.execute("ROLLBACK")
                continue
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for step in MIGRATIONS[found:]:
                step(conn)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        from ..log import logger

        logger(__name__).info("storage schema migrated from version %d to %d", found, LATEST)
        if backup is not None:
            os.remove(backup)
        return found


def _remove_stale_backups(path: str) -> None:
    """Delete ``<db>.bak-v<N>`` copies of versions already migrated past.

    A copy survives a crash between the migration's commit and its removal; it holds the
    wraps and objects of that moment, which later C_SetPIN / C_DestroyObject calls are
    meant to erase (docs/design.md, "What is scrubbed"). Once the database is at LATEST
    such a copy is no longer needed for anything."""
    for version in range(1, LATEST):
        try:
            os.remove(f"{path}.bak-v{version}")
        except FileNotFoundError:
            pass
        except OSError:
            pass   # not ours to remove (permissions): left for the owner; never fatal


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _copy(conn: sqlite3.Connection, backup: str) -> None:
    """Consistent copy of the database to ``backup`` (SQLite online backup API)."""
    if os.path.exists(backup):
        os.remove(backup)   # leftover of an interrupted earlier attempt; the db is the truth
    os.close(os.open(backup, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # holds wrapped keys
    dst = sqlite3.connect(backup)
    try:
        conn.backup(dst)
    finally:
        dst.close()
