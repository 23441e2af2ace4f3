"""Store side of the PIN attempts (issue 10, item 1): spend before the KDF, settle after,
on a real SQLite file."""
from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from strongroom.pkcs11.constants import CKR, CKU
from strongroom.pkcs11.errors import CKRError
from strongroom.storage import migrations, pin_attempts
from strongroom.storage.base import KdfParams
from strongroom.storage.sqlite import SqliteStore

KDF = KdfParams(log2_n=10)
SO_PIN = b"so-pin-1234"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "strongroom.db")
    yield s
    s.close()


def _token(store) -> int:
    return store.create_token(0, "t", SO_PIN, KDF).token_id


def test_spend_counts_before_the_check_and_settle_gives_back_only_a_right_pin(store):
    tid = _token(store)
    attempt = store.spend_pin_attempt(tid, CKU.SO, 3)
    assert store.get_token(tid).so_failures == 1             # counted before any KDF ran
    assert store.open_master_key(attempt, CKU.SO, b"wrong") is None
    store.settle_pin_attempt(tid, CKU.SO, attempt, right=False)
    assert store.get_token(tid).so_failures == 1
    attempt = store.spend_pin_attempt(tid, CKU.SO, 3)
    assert store.get_token(tid).so_failures == 2
    assert store.open_master_key(attempt, CKU.SO, SO_PIN) is not None
    store.settle_pin_attempt(tid, CKU.SO, attempt, right=True)
    assert store.get_token(tid).so_failures == 0


def test_no_try_left_is_locked(store):
    tid = _token(store)
    for _ in range(2):
        store.settle_pin_attempt(tid, CKU.SO, store.spend_pin_attempt(tid, CKU.SO, 2), right=False)
    with pytest.raises(CKRError) as err:
        store.spend_pin_attempt(tid, CKU.SO, 2)
    assert err.value.rv == CKR.PIN_LOCKED
    assert store.get_token(tid).so_failures == 2


def test_locked_caller_waits_for_an_attempt_in_flight_that_proves_right(store, tmp_path):
    """Tries exhausted only by an attempt still being checked: a second caller (another
    connection, as another process would be) waits; when the first gives its try back,
    the second gets its own try instead of CKR_PIN_LOCKED."""
    tid = _token(store)
    first = store.spend_pin_attempt(tid, CKU.SO, 1)
    other = SqliteStore(tmp_path / "strongroom.db")
    try:
        got: list = []
        waiter = threading.Thread(target=lambda: got.append(other.spend_pin_attempt(tid, CKU.SO, 1)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and not got                  # waiting, not locked out
        store.settle_pin_attempt(tid, CKU.SO, first, right=True)
        waiter.join(10)
        assert got and store.get_token(tid).so_failures == 1
        other.settle_pin_attempt(tid, CKU.SO, got[0], right=True)
    finally:
        other.close()


def test_locked_caller_stops_waiting_when_nothing_is_in_flight(store, monkeypatch):
    monkeypatch.setattr(pin_attempts, "PIN_WAIT_S", 0.05)
    tid = _token(store)
    store.spend_pin_attempt(tid, CKU.SO, 1)      # never settled: its process "was killed"
    with pytest.raises(CKRError) as err:
        store.spend_pin_attempt(tid, CKU.SO, 1)
    assert err.value.rv == CKR.PIN_LOCKED
    assert store.get_token(tid).so_failures == 1


def test_user_pin_not_initialised_spends_nothing(store):
    tid = _token(store)
    with pytest.raises(CKRError) as err:
        store.spend_pin_attempt(tid, CKU.USER, 3)
    assert err.value.rv == CKR.USER_PIN_NOT_INITIALIZED
    assert store.get_token(tid).user_failures == 0


def test_token_reinitialised_between_spend_and_settle(store):
    tid = _token(store)
    attempt = store.spend_pin_attempt(tid, CKU.SO, 3)
    master_key = store.open_master_key(attempt, CKU.SO, SO_PIN)
    assert master_key is not None
    store.reinit_token(tid, "t", SO_PIN, KDF)                 # new uuid, counters 0
    store.spend_pin_attempt(tid, CKU.SO, 3)                   # someone spends on the new token
    with pytest.raises(CKRError) as err:
        store.settle_pin_attempt(tid, CKU.SO, attempt, right=True)
    assert err.value.rv == CKR.TOKEN_NOT_PRESENT
    assert store.get_token(tid).so_failures == 1              # not given back by the old attempt
    store.delete_token(tid)
    with pytest.raises(CKRError) as err:
        store.spend_pin_attempt(tid, CKU.SO, 3)
    assert err.value.rv == CKR.TOKEN_NOT_PRESENT


def test_right_and_wrong_settle_write_the_same_way(store, tmp_path):
    """Until the answer is returned the files show no difference: each settle appends the
    same number of WAL bytes (one frame of the token row's page)."""
    tid = _token(store)
    wal = tmp_path / "strongroom.db-wal"
    grown = {}
    for right in (False, True, False):
        attempt = store.spend_pin_attempt(tid, CKU.SO, 10)
        before = os.path.getsize(wal)
        store.settle_pin_attempt(tid, CKU.SO, attempt, right=right)
        grown.setdefault(right, set()).add(os.path.getsize(wal) - before)
    assert grown[False] == grown[True] and min(grown[True]) > 0


def test_version_1_store_is_migrated_and_keeps_its_tokens(tmp_path, monkeypatch):
    path = tmp_path / "strongroom.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    monkeypatch.setattr(migrations, "LATEST", 1)
    old = SqliteStore(path)
    tid = _token(old)
    old.close()
    with sqlite3.connect(path) as conn:    # a failure counted by a version-1 store
        conn.execute("UPDATE tokens SET so_failures = 1 WHERE id = ?", (tid,))
    conn.close()
    monkeypatch.undo()
    store = SqliteStore(path)
    try:
        assert store.get_token(tid).so_failures == 1
        attempt = store.spend_pin_attempt(tid, CKU.SO, 3)
        assert store.open_master_key(attempt, CKU.SO, SO_PIN) is not None
        store.settle_pin_attempt(tid, CKU.SO, attempt, right=True)
        assert store.get_token(tid).so_failures == 0
    finally:
        store.close()
    assert not list(tmp_path.glob("*.bak-v*"))
