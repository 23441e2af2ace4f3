"""The Store on one SQLite file, shared by every process and thread of the host.

Why these settings (field notes, "Storage and scale"):

* WAL: readers never block the writer and vice versa, so parallel signing does not fail.
* ``busy_timeout`` 10 s: a writer waits for another process's short transaction instead
  of failing with "database is locked".
* ``synchronous=FULL``: every commit is fsynced, WAL included. NORMAL-with-WAL can lose
  the last commits on power loss; for a token that would mean a key the application was
  told exists (C_GenerateKeyPair returned CKR_OK) vanishing, or a PIN failure counter
  rolling back. Commits are rare compared to reads, so durability wins.
* ``secure_delete`` plus a truncating checkpoint (``_scrub``, scrub.py): ``secure_delete`` zeroes
  deleted rows and freed pages only in the *new* version of a page, and in WAL mode that
  new version is appended to ``-wal`` while every older version (old wraps, destroyed
  objects) stays in the earlier frames, and in the main file until a checkpoint copies the
  new one over it. So every call that drops a secret (C_SetPIN / C_InitPIN: the old wrap;
  C_DestroyObject; C_InitToken on a token; deleting a token) commits, then runs
  ``PRAGMA wal_checkpoint(TRUNCATE)``: the zeroed pages overwrite the main file and the
  WAL is cut to 0 bytes. A reader of another process can hold it up; it is waited for
  (``SCRUB_WAIT_S``) and, if it still blocks, the scrub is retried after every later
  write until it completes (docs/design.md, "What is scrubbed").
* One connection per store, guarded by an RLock; every public method is one transaction
  (``BEGIN IMMEDIATE`` for writes), so an error or interruption leaves no partial change,
  and nothing is cached between calls: each call reads what was committed.

Expensive scrypt work (PIN checks and wraps) runs outside any transaction so it never
holds the write lock; the write that follows is guarded by the token uuid, which changes
on re-initialisation.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11 import attributes as codec
from ..pkcs11.constants import CKA, CKR, CKU
from ..pkcs11.errors import CKRError
from ..wipe import random_bytearray, wipe_secret_values, zero
from . import kdf as kdfmod
from . import pin_attempts as pins
from .base import Attrs, KdfParams, PinAttempt, Quota, Store, TokenRecord
from .migrations import migrate
from .scrub import enable_wal, truncate_wal
from .sealing import ALWAYS_PLAIN, ObjectKeys, indexed, must_seal, tampered

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

BUSY_TIMEOUT_S = 10.0
SCRUB_WAIT_S = 2.0       # how long a scrub waits for other processes' readers to move on
_MAX_JOIN = 8        # indexed template attributes matched in SQL; the rest by comparison
_SELECTIVE = (CKA.UNIQUE_ID, CKA.LABEL, CKA.ID, CKA.EC_POINT, CKA.MODULUS, CKA.SUBJECT,
              CKA.SERIAL_NUMBER, CKA.HASH_OF_SUBJECT_PUBLIC_KEY, CKA.PUBLIC_KEY_INFO,
              CKA.CHECK_VALUE, CKA.ISSUER, CKA.APPLICATION, CKA.OBJECT_ID)
_RANK = {int(c): i for i, c in enumerate(_SELECTIVE)}

_TOKEN_COLS = ("id, slot_id, serial, label, uuid, user_wrap IS NOT NULL, user_failures, "
               "so_failures, object_count, bytes_used")
def _db_error(exc: sqlite3.Error) -> CKRError:
    """sqlite errors carry no data values, only the SQLite error name is kept."""
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    if name in ("SQLITE_FULL",):
        return CKRError(CKR.DEVICE_MEMORY, f"storage: {name}")
    return CKRError(CKR.DEVICE_ERROR, f"storage: {name}")


class _TokenKeys(NamedTuple):
    uuid: bytes
    public_seal_key: bytes
    key_check: bytes
    object_count: int     # quota figures, read in the same statement (one query per write)
    bytes_used: int
    legacy_allowed_max_id: int = 0   # migrations._V3: older objects' empty ALLOWED_MECHANISMS

    def keys(self, private: bool, master_key: bytes | bytearray | None,
             cache: dict[tuple[bytes, bool], ObjectKeys]) -> ObjectKeys:
        """The key set for a private (master key, verified) or public object.

        ``cache`` (the store's, keyed by token uuid and private/public) saves three HKDFs
        and the master-key check per call; a hit is used only for the very root it was
        made from (the master key is a bytearray: compared by identity, then by value); a
        re-initialised token has a new uuid, so a stale entry is never hit."""
        root = self.public_seal_key if not private else master_key
        if root is None:
            raise CKRError(CKR.USER_NOT_LOGGED_IN)
        keys = cache.get((self.uuid, private))
        if keys is not None and (keys.root is root or keys.root == root):
            return keys
        if private:
            if root.__class__ is bytearray and not any(root):
                # the login's key, zeroed by a C_Logout racing this call (LoginState.clear)
                raise CKRError(CKR.USER_NOT_LOGGED_IN)
            kdfmod.verify_master_key(root, self.uuid, self.key_check)
        if keys is not None or len(cache) >= _KEY_CACHE_MAX:
            _wipe_keys(cache)
        keys = cache[self.uuid, private] = ObjectKeys(root, self.uuid)
        return keys


_KEY_CACHE_MAX = 16


def _wipe_keys(cache: dict[tuple[bytes, bool], ObjectKeys]) -> None:
    """Empty the derived-key cache, zeroing each key set (forget_keys, close, overflow)."""
    entries = list(cache.values())
    cache.clear()
    for keys in entries:
        keys.wipe()


def _drop_raw(*images: dict[int, Any]) -> None:
    """Unsealed byte images the store made for itself (update, find's compare): wipe the
    secret ones no one else holds before they are freed (wipe.py)."""
    for raw in images:
        wipe_secret_values(raw, 3)     # held here: the caller's local, ``images``, ``raw``


class _Stored(NamedTuple):
    """One object as read from the file: meta data and plain byte images."""
    uid: bytes
    private: bool
    size: int
    raw: dict[int, bytes]


_DEFAULT_QUOTA = Quota()


class SqliteStore(Store):
    """Store on the SQLite file ``path`` (created and migrated as needed)."""

    def __init__(self, path: str | os.PathLike[str], quota: Quota = _DEFAULT_QUOTA,
                 busy_timeout: float = BUSY_TIMEOUT_S,
                 version_probe: Callable[[], int] | None = None) -> None:
        self._path = os.fspath(path)
        # data_version() through a cheaper reader (the C library's own connection, see
        # abi/shim.c) when one is given; it returns -1 when it cannot answer, and then
        # this store falls back to its own connection for good (_probe_failed).
        self._probe = version_probe
        self._probe_failed = False
        self._quota = quota
        self._busy_ms = int(busy_timeout * 1000)
        self._scrub_pending = False     # a scrub could not complete: retried after each write
        self._lock = threading.RLock()
        _create_private_file(self._path)
        try:
            conn = sqlite3.connect(self._path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise _db_error(exc) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            enable_wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            migrate(conn, self._path)
        except sqlite3.Error as exc:
            conn.close()
            raise _db_error(exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        self._tokens_cache: tuple[int, tuple[TokenRecord, ...]] | None = None
        # Derived sealing/index keys per (token uuid, private?); see forget_keys().
        self._keys: dict[tuple[bytes, bool], ObjectKeys] = {}

    # --- plumbing -------------------------------------------------------------------
    @contextmanager
    def _tx(self, write: bool = False, scrub: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on any exception.

        ``scrub``: the transaction dropped a secret; once committed, scrub the files."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise CKRError(CKR.GENERAL_ERROR, "store is closed")
            if write:
                self._tokens_cache = None     # our own commits do not move our connection's data_version
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise _db_error(exc) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _db_error(exc) from None
                raise
            if scrub or (write and self._scrub_pending):
                self._scrub(SCRUB_WAIT_S if scrub else 0.0)

    def _scrub(self, wait_s: float) -> None:
        """scrub.truncate_wal; if a reader of another process kept the old frames, the
        data is committed all the same (the call succeeds) and the scrub is tried again
        after every write of this store and at close, until it completes. Called with
        the store lock held and no transaction open."""
        conn = self._conn
        assert conn is not None
        busy = not truncate_wal(conn, wait_s, self._busy_ms)
        if busy and not self._scrub_pending:
            from ..log import logger

            logger(__name__).warning(
                "storage: another process's reader kept the WAL busy; old frames stay in "
                "%s-wal until a later write completes the checkpoint", self._path)
        self._scrub_pending = bool(busy)

    @staticmethod
    def _record(row: tuple[Any, ...]) -> TokenRecord:
        return TokenRecord(token_id=row[0], slot_id=row[1], serial=row[2], label=row[3],
                           uuid=bytes(row[4]), user_pin_initialized=bool(row[5]),
                           user_failures=row[6], so_failures=row[7], object_count=row[8],
                           bytes_used=row[9])

    def _get(self, conn: sqlite3.Connection, token_id: int) -> TokenRecord:
        row = conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise CKRError(CKR.TOKEN_NOT_PRESENT)
        return self._record(row)

    @staticmethod
    def _token_keys(conn: sqlite3.Connection, token_id: int) -> _TokenKeys:
        row = conn.execute("SELECT uuid, public_seal_key, key_check, object_count, bytes_used, "
                           "legacy_allowed_max_id FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise CKRError(CKR.TOKEN_NOT_PRESENT)
        return _TokenKeys(bytes(row[0]), bytes(row[1]), bytes(row[2]), row[3], row[4], row[5])

    # --- tokens -----------------------------------------------------------------------
    def list_tokens(self) -> list[TokenRecord]:
        # Every C_OpenSession / C_GetSlotInfo asks: keep the (immutable) records while no
        # connection committed. Another process's commit moves data_version(); our
        # own write transactions drop the cache in _tx (the C probe sees them too).
        with self._lock:
            version = self.data_version()
            cached = self._tokens_cache
            if cached is not None and cached[0] == version:
                return list(cached[1])
            with self._tx() as conn:
                rows = conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens ORDER BY slot_id").fetchall()
            records = tuple(self._record(r) for r in rows)
            self._tokens_cache = (version, records)
            return list(records)

    def get_token(self, token_id: int) -> TokenRecord:
        with self._tx() as conn:
            return self._get(conn, token_id)

    def _fresh_token(self, so_pin: bytes | bytearray, kdf: KdfParams) -> dict[str, Any]:
        """New uuid, master key, public seal key and SO wrap (scrypt: outside any lock)."""
        uuid = os.urandom(16)
        master_key = random_bytearray(kdfmod.MASTER_KEY_LEN)   # zeroed below (issue 10)
        try:
            salt, wrap = kdfmod.wrap_master_key(master_key, so_pin, kdf, uuid, CKU.SO)
            check = kdfmod.key_check(master_key, uuid)
        finally:
            zero(master_key)
        return {"uuid": uuid, "public_seal_key": os.urandom(32),
                "key_check": check, "so_wrap": wrap,
                "so_salt": salt, "so_log2_n": kdf.log2_n, "so_r": kdf.r, "so_p": kdf.p}

    def create_token(self, slot_id: int, label: str, so_pin: bytes | bytearray, kdf: KdfParams) -> TokenRecord:
        cols = self._fresh_token(so_pin, kdf)
        with self._tx(write=True) as conn:
            if conn.execute("SELECT 1 FROM tokens WHERE slot_id = ?", (slot_id,)).fetchone():
                raise CKRError(CKR.SLOT_ID_INVALID, f"slot {slot_id} already holds a token")
            serial = os.urandom(8).hex().upper()     # = secrets.token_hex(8) (cold start: no hmac import)
            while conn.execute("SELECT 1 FROM tokens WHERE serial = ?", (serial,)).fetchone():
                serial = os.urandom(8).hex().upper()
            cols.update(slot_id=slot_id, serial=serial, label=label)
            names = ", ".join(cols)
            marks = ", ".join("?" for _ in cols)
            token_id = _insert(conn, f"INSERT INTO tokens ({names}) VALUES ({marks})", tuple(cols.values()))
            return self._get(conn, token_id)

    def reinit_token(self, token_id: int, label: str, so_pin: bytes | bytearray, kdf: KdfParams) -> TokenRecord:
        cols = self._fresh_token(so_pin, kdf)
        cols.update(label=label, user_wrap=None, user_salt=None, user_log2_n=None, user_r=None,
                    user_p=None, user_failures=0, so_failures=0)
        with self._tx(write=True, scrub=True) as conn:
            self._get(conn, token_id)
            conn.execute("DELETE FROM objects WHERE token_id = ?", (token_id,))
            sets = ", ".join(f"{c} = ?" for c in cols)
            conn.execute(f"UPDATE tokens SET {sets}, object_count = 0, bytes_used = 0 WHERE id = ?",
                         (*cols.values(), token_id))
            return self._get(conn, token_id)

    def delete_token(self, token_id: int) -> None:
        with self._tx(write=True, scrub=True) as conn:
            if conn.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount == 0:
                raise CKRError(CKR.TOKEN_NOT_PRESENT)

    def set_label(self, token_id: int, label: str) -> None:
        with self._tx(write=True) as conn:
            if conn.execute("UPDATE tokens SET label = ? WHERE id = ?",
                            (label, token_id)).rowcount == 0:
                raise CKRError(CKR.TOKEN_NOT_PRESENT)

    # --- PINs and the master key ------------------------------------------------------
    def spend_pin_attempt(self, token_id: int, user_type: CKU, max_tries: int) -> PinAttempt:
        user = pins.user_of(user_type)
        deadline = None
        while True:
            with self._tx(write=True) as conn:
                attempt, wait = pins.try_spend(conn, token_id, user, max_tries)
            if attempt is not None:
                return attempt
            now = time.monotonic()
            deadline = now + wait if deadline is None else deadline
            if now >= deadline:
                raise CKRError(CKR.PIN_LOCKED)
            time.sleep(pins.PIN_POLL_S)

    def open_master_key(self, attempt: PinAttempt, user_type: CKU,
                        pin: bytes | bytearray) -> bytearray | None:
        return kdfmod.unwrap_master_key(attempt.wrap, attempt.salt, pin, attempt.kdf,
                                        attempt.token_uuid, pins.user_of(user_type))

    def settle_pin_attempt(self, token_id: int, user_type: CKU, attempt: PinAttempt,
                           right: bool) -> None:
        user = pins.user_of(user_type)
        with self._tx(write=True) as conn:
            pins.settle(conn, token_id, user, attempt, right)

    def set_pin(self, token_id: int, user_type: CKU, master_key: bytes | bytearray, pin: bytes | bytearray,
                kdf: KdfParams) -> None:
        user = pins.user_of(user_type)
        with self._tx() as conn:
            tk = self._token_keys(conn, token_id)
        kdfmod.verify_master_key(master_key, tk.uuid, tk.key_check)
        salt, wrap = kdfmod.wrap_master_key(master_key, pin, kdf, tk.uuid, user)
        with self._tx(write=True, scrub=True) as conn:    # scrub: the old wrap
            pins.store_wrap(conn, token_id, user, tk.uuid, salt, wrap, kdf)

    # --- objects ----------------------------------------------------------------------
    def _rows(self, keys: ObjectKeys, obj: Mapping[int, Any], raw: Mapping[int, bytes],
              uid: bytes, private: bool) -> tuple[list[tuple[int, bytes, int]], list[tuple[int, bytes]]]:
        """(attribute rows (type, stored value, sealed), index rows (type, digest))."""
        attr_rows, index_rows = [], []
        for cka, image in raw.items():
            sealed = must_seal(obj, cka, private)
            attr_rows.append((cka, keys.seal(uid, cka, image) if sealed else image, int(sealed)))
            if indexed(cka):
                index_rows.append((cka, keys.digest(cka, image)))
        return attr_rows, index_rows

    def _check_quota(self, tk: _TokenKeys, add_objects: int, add_bytes: int) -> None:
        count, used = tk.object_count, tk.bytes_used   # read inside this write transaction
        if count + add_objects > self._quota.max_objects or used + add_bytes > self._quota.max_bytes:
            raise CKRError(CKR.DEVICE_MEMORY, "token storage quota exceeded")

    def _write(self, conn: sqlite3.Connection, token_id: int, object_id: int | None,
               obj: Mapping[int, Any], raw: Mapping[int, bytes], uid: bytes, private: bool,
               tk: _TokenKeys, master_key: bytes | bytearray | None, old_size: int) -> int:
        """Insert (object_id None) or rewrite an object wholesale; returns its id."""
        keys = tk.keys(private, master_key, self._keys)
        attr_rows, index_rows = self._rows(keys, obj, raw, uid, private)
        size = sum(len(v) for _, v, _ in attr_rows)
        self._check_quota(tk, object_id is None, size - old_size)
        manifest = keys.seal_manifest(uid, raw) if private else None
        if object_id is None:
            object_id = _insert(
                conn, "INSERT INTO objects (token_id, uid, private, size, manifest) VALUES (?, ?, ?, ?, ?)",
                (token_id, uid, int(private), size, manifest))
        else:
            conn.execute("UPDATE objects SET private = ?, size = ?, manifest = ? WHERE id = ?",
                         (int(private), size, manifest, object_id))
            conn.execute("DELETE FROM attributes WHERE object_id = ?", (object_id,))
            conn.execute("DELETE FROM find_index WHERE object_id = ?", (object_id,))
        conn.executemany("INSERT INTO attributes (object_id, type, value, sealed) VALUES (?, ?, ?, ?)",
                         [(object_id, t, v, s) for t, v, s in attr_rows])
        conn.executemany("INSERT INTO find_index (object_id, token_id, type, digest) VALUES (?, ?, ?, ?)",
                         [(object_id, token_id, t, d) for t, d in index_rows])
        return object_id

    def create_object(self, token_id: int, attrs: Mapping[int, Any], master_key: bytes | bytearray | None) -> int:
        # A missing CKA_PRIVATE counts as private: the safe reading (sealed, needs login).
        private = bool(attrs.get(CKA.PRIVATE, True))
        raw = {int(k): codec.encode(k, v) for k, v in attrs.items()}
        uid = os.urandom(16)
        with self._tx(write=True) as conn:
            tk = self._token_keys(conn, token_id)
            return self._write(conn, token_id, None, attrs, raw, uid, private, tk, master_key, 0)

    def _read(self, conn: sqlite3.Connection, token_id: int, object_id: int,
              master_key: bytes | bytearray | None, types: tuple[int, ...] | None = None) -> _Stored:
        """Unsealed byte images of one object (all, or only ``types``), integrity-checked."""
        row = conn.execute("SELECT uid, private, size, manifest FROM objects WHERE id = ? AND token_id = ?",
                           (object_id, token_id)).fetchone()
        if row is None or (row[1] and master_key is None):
            raise CKRError(CKR.OBJECT_HANDLE_INVALID)
        uid, private, size, manifest = bytes(row[0]), bool(row[1]), row[2], row[3]
        tk = self._token_keys(conn, token_id)
        keys = tk.keys(private, master_key, self._keys)
        sql = "SELECT type, value, sealed FROM attributes WHERE object_id = ?"
        if types is not None:
            sql += f" AND type IN ({', '.join('?' for _ in types)})"
        rows = conn.execute(sql, (object_id, *(types or ()))).fetchall()
        raw: dict[int, bytes] = {}
        for cka, value, sealed in rows:
            if private and not sealed and cka not in ALWAYS_PLAIN:
                raise tampered()
            raw[cka] = keys.unseal(uid, cka, bytes(value)) if sealed else bytes(value)
        if private:
            if manifest is None:
                raise tampered()
            expected = keys.open_manifest(uid, bytes(manifest))
            wanted = expected if types is None else expected & set(types)
            if wanted != set(raw):
                raise tampered()
        flag = raw.get(CKA.PRIVATE)
        if flag is not None and (flag != b"\x00") != private:
            raise tampered()
        if object_id <= tk.legacy_allowed_max_id and len(raw.get(CKA.ALLOWED_MECHANISMS, b"-")) == 0:
            del raw[CKA.ALLOWED_MECHANISMS]   # the old schema default: "any mechanism" (_V3)
        return _Stored(uid, private, size, raw)

    @staticmethod
    def _decode(raw: Mapping[int, bytes]) -> Attrs:
        return {cka: codec.decode(cka, image) for cka, image in raw.items()}

    def load_object(self, token_id: int, object_id: int, master_key: bytes | bytearray | None) -> Attrs:
        with self._tx() as conn:
            stored = self._read(conn, token_id, object_id, master_key)
        return self._decode(stored.raw)

    def update_object(self, token_id: int, object_id: int, changes: Mapping[int, Any],
                      master_key: bytes | bytearray | None) -> None:
        new_raw = {int(k): codec.encode(k, v) for k, v in changes.items()}
        old_raw: dict[int, bytes] = {}
        raw: dict[int, bytes] = {}
        obj: Attrs = {}
        try:
            with self._tx(write=True) as conn:
                stored = self._read(conn, token_id, object_id, master_key)
                old_raw = stored.raw
                raw = {**old_raw, **new_raw}
                obj = self._decode(raw)
                private = bool(obj.get(CKA.PRIVATE, True))
                tk = self._token_keys(conn, token_id)
                self._write(conn, token_id, object_id, obj, raw, stored.uid, private, tk,
                            master_key, stored.size)
                del stored
        finally:
            _drop_raw(obj, raw, old_raw)

    def destroy_object(self, token_id: int, object_id: int) -> None:
        with self._tx(write=True, scrub=True) as conn:
            if conn.execute("DELETE FROM objects WHERE id = ? AND token_id = ?",
                            (object_id, token_id)).rowcount == 0:
                raise CKRError(CKR.OBJECT_HANDLE_INVALID)

    def object_private(self, token_id: int, object_id: int) -> bool | None:
        with self._tx() as conn:
            row = conn.execute("SELECT private FROM objects WHERE id = ? AND token_id = ?",
                               (object_id, token_id)).fetchone()
        return None if row is None else bool(row[0])

    def find_objects(self, token_id: int, template: Mapping[int, Any],
                     master_key: bytes | bytearray | None) -> list[int]:
        wanted = {int(k): codec.encode(k, v) for k, v in template.items()}
        by_rank = sorted((c for c in wanted if indexed(c)), key=lambda c: _RANK.get(c, len(_RANK)))
        joined = by_rank[:_MAX_JOIN]
        rest = tuple(c for c in wanted if c not in joined)
        with self._tx() as conn:
            tk = self._token_keys(conn, token_id)
            domains = [tk.keys(False, None, self._keys)]
            if master_key is not None:
                domains.append(tk.keys(True, master_key, self._keys))
            ids = self._candidates(conn, token_id, joined, wanted, domains, master_key is not None)
            if not rest:
                return ids
            return [oid for oid in ids if self._matches(conn, token_id, oid, master_key, rest, wanted)]

    @staticmethod
    def _candidates(conn: sqlite3.Connection, token_id: int, joined: list[int],
                    wanted: Mapping[int, bytes], domains: list[ObjectKeys],
                    with_private: bool) -> list[int]:
        """Object ids matching every ``joined`` attribute, via the blind index.

        The most selective attribute drives (CROSS JOIN fixes SQLite's join order), every
        further one is a primary-key probe per candidate, so cost follows the number of
        matches, not the number of objects. Digests of both domains are offered; a
        public object can only match public-key digests and vice versa (128-bit HMACs)."""
        if not joined:
            sql = "SELECT id FROM objects WHERE token_id = ?"
            if not with_private:
                sql += " AND private = 0"
            return [r[0] for r in conn.execute(sql + " ORDER BY id", (token_id,))]
        args: list[Any] = [token_id]
        tables, where = [], []
        for i, cka in enumerate(joined):
            digests = [d.digest(cka, wanted[cka]) for d in domains]
            marks = ", ".join("?" for _ in digests)
            tables.append(f"find_index AS f{i}")
            if i == 0:
                where.append(f"f0.token_id = ? AND f0.digest IN ({marks}) AND f0.type = ?")
                args[1:] = [*digests, cka]
            else:
                where.append(f"f{i}.object_id = f0.object_id AND f{i}.type = ? "
                             f"AND f{i}.digest IN ({marks})")
                args += [cka, *digests]
        sql = (f"SELECT f0.object_id FROM {' CROSS JOIN '.join(tables)} "
               f"WHERE {' AND '.join(where)} ORDER BY f0.object_id")
        return [r[0] for r in conn.execute(sql, args)]

    def _matches(self, conn: sqlite3.Connection, token_id: int, object_id: int,
                 master_key: bytes | bytearray | None, types: tuple[int, ...], wanted: Mapping[int, bytes]) -> bool:
        stored = self._read(conn, token_id, object_id, master_key, types)
        raw = stored.raw
        del stored
        try:
            return all(raw.get(c) == wanted[c] for c in types)
        finally:
            _drop_raw(raw)

    # --- freshness ----------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    def data_version(self) -> int:
        probe = self._probe
        if probe is not None and self._conn is not None:
            version = probe()
            if version >= 0:
                return version
            self._probe = None
            self._probe_failed = True
        with self._lock:
            if self._conn is None:
                raise CKRError(CKR.GENERAL_ERROR, "store is closed")
            try:
                version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise _db_error(exc) from None
        # After a probe failure: values of another connection's counter, kept apart from
        # the probe's (>= 0) so that a cache keyed on the last probe value is dropped.
        return ~version if self._probe_failed else version

    def forget_keys(self) -> None:
        with self._lock:
            _wipe_keys(self._keys)

    def forget_keys_in_child(self) -> None:
        _wipe_keys(self._keys)

    def close(self) -> None:
        with self._lock:
            _wipe_keys(self._keys)
            self._probe = None
            if self._conn is not None and self._scrub_pending:
                self._scrub(0.0)
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _insert(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> int:
    """The row id of the row an INSERT made."""
    row_id = conn.execute(sql, args).lastrowid
    if row_id is None:      # not after a successful INSERT (sqlite3 docs: Cursor.lastrowid)
        raise CKRError(CKR.DEVICE_ERROR, "storage: INSERT made no row")
    return row_id


def _create_private_file(path: str) -> None:
    """Create the database file readable by its owner only (it holds wrapped keys);
    SQLite gives the -wal and -shm files the same mode."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise CKRError(CKR.DEVICE_ERROR, f"storage: cannot create database file ({exc.strerror})") from None
