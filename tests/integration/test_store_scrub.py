"""Old secrets leave the store files (issue 10, item 2).

Once C_SetPIN, C_InitPIN, C_InitToken or C_DestroyObject has returned, no file under
STRONGROOM_HOME (strongroom.db, -wal, -shm, migration backups, the log) holds the wrap an
old PIN opens, a destroyed object's sealed values, or a re-initialised token's old
objects. The byte strings are read from the database before the call; the calls go
through the real module in a host process (pin_worker.py) that is still running, its
connections open, when the files are scanned. Each scan is first shown to find the
strings while they are still live, so a clean scan means something.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pin_host import LABEL, SO_PIN, USER_PIN, Worker, make_token_home

from strongroom.pkcs11.constants import CKA, CKO, CKR, CKU
from strongroom.storage import sqlite as sqlite_store
from strongroom.storage.base import KdfParams
from strongroom.storage.sqlite import SqliteStore


def _files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def _holding(home: Path, secrets: list[bytes]) -> list[str]:
    """'file: secret #i' for every secret found in any file of the home."""
    found = []
    for name, data in _files(home).items():
        found += [f"{name}: secret #{i}" for i, secret in enumerate(secrets) if secret in data]
    return found


def _db(home: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(home / "strongroom.db")
    try:
        return [tuple(bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in row)
                for row in conn.execute(sql, args)]
    finally:
        conn.close()


def _wrap(home: Path, who: str) -> bytes:
    return _db(home, f"SELECT {who}_wrap FROM tokens")[0][0]


def _sealed(home: Path, label_like: str = "%") -> list[bytes]:
    """Every sealed attribute value and manifest of the token's objects (small blobs: each
    lies whole in one page)."""
    rows = _db(home, "SELECT a.value FROM attributes a JOIN objects o ON o.id = a.object_id "
                     "WHERE a.sealed = 1")
    rows += _db(home, "SELECT manifest FROM objects WHERE manifest IS NOT NULL")
    blobs = [r[0] for r in rows]
    assert blobs
    return blobs


@pytest.fixture
def home(tmp_path) -> Path:
    return make_token_home(tmp_path, tries=10, log2_n=10)


@pytest.fixture
def worker(module, home):
    w = Worker(module, home)
    assert w.rv(op="init") == CKR.OK
    assert w.rv(op="open", label=LABEL) == CKR.OK
    yield w
    w.close()


def _churn(worker: Worker, n: int = 4) -> None:
    """Logins and logouts: each rewrites the token row (so its page, wraps included, is
    copied into the WAL again and again, as in the attacker's run)."""
    for _ in range(n):
        assert worker.rv(op="login", user=CKU.USER, pin=USER_PIN) == CKR.OK
        assert worker.rv(op="logout") == CKR.OK


def test_set_pin_leaves_no_old_wrap(home, worker):
    _churn(worker)
    old = _wrap(home, "user")
    assert _holding(home, [old])                      # the scan sees the live wrap
    assert worker.rv(op="setpin", old=USER_PIN, new="new-user-pin") == CKR.OK
    assert _wrap(home, "user") != old
    assert _holding(home, [old]) == []


def test_so_set_pin_leaves_no_old_so_wrap(home, worker):
    assert worker.rv(op="login", user=CKU.SO, pin=SO_PIN) == CKR.OK
    old = _wrap(home, "so")
    assert _holding(home, [old])
    assert worker.rv(op="setpin", old=SO_PIN, new="new-so-pin") == CKR.OK
    assert _holding(home, [old]) == []


def test_init_pin_leaves_no_old_wrap(home, worker):
    _churn(worker)
    old = _wrap(home, "user")
    assert _holding(home, [old])
    assert worker.rv(op="login", user=CKU.SO, pin=SO_PIN) == CKR.OK
    assert worker.rv(op="initpin", pin="reset-user-pin") == CKR.OK
    assert _holding(home, [old]) == []


def test_destroy_object_leaves_no_sealed_value(home, worker):
    assert worker.rv(op="login", user=CKU.USER, pin=USER_PIN) == CKR.OK
    kept = worker.call(op="create", label="kept")["handle"]
    doomed = worker.call(op="create", label="doomed")["handle"]
    assert kept and doomed
    rows = _db(home, "SELECT id FROM objects ORDER BY id")
    doomed_id = rows[-1][0]
    secrets = [r[0] for r in _db(home, "SELECT value FROM attributes WHERE object_id = ? AND sealed = 1",
                                 doomed_id)]
    secrets += [r[0] for r in _db(home, "SELECT manifest FROM objects WHERE id = ?", doomed_id)]
    assert len(secrets) >= 3 and _holding(home, secrets)
    assert worker.rv(op="logout") == CKR.OK
    _churn(worker, 1)
    assert worker.rv(op="login", user=CKU.USER, pin=USER_PIN) == CKR.OK
    assert worker.rv(op="destroy", handle=doomed) == CKR.OBJECT_HANDLE_INVALID   # died at logout
    doomed = worker.call(op="find", label="doomed")["handle"]
    assert worker.rv(op="destroy", handle=doomed) == CKR.OK
    assert _holding(home, secrets) == []
    assert len(_db(home, "SELECT id FROM objects")) == 1      # the other key is still there


def test_reinit_token_leaves_no_old_object_or_wrap(home, worker):
    assert worker.rv(op="login", user=CKU.USER, pin=USER_PIN) == CKR.OK
    for i in range(3):
        assert worker.rv(op="create", label=f"old-{i}") == CKR.OK
    secrets = [*_sealed(home), _wrap(home, "user"), _wrap(home, "so")]
    assert _holding(home, secrets)
    assert worker.rv(op="logout") == CKR.OK
    assert worker.rv(op="inittoken", so_pin=SO_PIN, label=LABEL) == CKR.OK
    assert _holding(home, secrets) == []
    assert _db(home, "SELECT count(*) FROM objects") == [(0,)]


def test_scrub_waits_for_a_reader_then_completes_at_the_next_write(tmp_path, monkeypatch):
    """Another process's open read transaction keeps old WAL frames in use: the scrub
    cannot truncate. The call still succeeds (its change is committed); the store retries
    after its next write, and once the reader is gone the old frames are gone too."""
    monkeypatch.setattr(sqlite_store, "SCRUB_WAIT_S", 0.05)
    path = tmp_path / "strongroom.db"
    store = SqliteStore(path)
    kdf = KdfParams(log2_n=10)
    tid = store.create_token(0, "t", SO_PIN.encode(), kdf).token_id
    attempt = store.spend_pin_attempt(tid, CKU.SO, 10)       # the store's one PIN path
    mk = store.open_master_key(attempt, CKU.SO, SO_PIN.encode())
    store.settle_pin_attempt(tid, CKU.SO, attempt, right=mk is not None)
    assert mk is not None
    oid = store.create_object(tid, {CKA.CLASS: CKO.DATA, CKA.TOKEN: True, CKA.PRIVATE: True,
                                    CKA.VALUE: b"v" * 40}, mk)
    secrets = [r[0] for r in _db(tmp_path, "SELECT value FROM attributes WHERE sealed = 1")]
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM objects").fetchone()   # holds its snapshot
    store.destroy_object(tid, oid)
    assert store.object_private(tid, oid) is None               # committed all the same
    assert _holding(tmp_path, secrets)                          # the frames are still in use
    reader.execute("COMMIT")
    reader.close()
    store.set_label(tid, "any later write")
    assert _holding(tmp_path, secrets) == []
    store.close()


def test_stale_migration_backup_is_removed(tmp_path):
    """A ``.bak-v1`` left by a crash after a committed migration holds that moment's wraps:
    opening the (migrated) store removes it."""
    path = tmp_path / "strongroom.db"
    SqliteStore(path).close()
    backup = tmp_path / "strongroom.db.bak-v1"
    backup.write_bytes(b"old copy")
    SqliteStore(path).close()
    assert not backup.exists()
