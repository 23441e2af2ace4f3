"""Keys stored before schema 3 keep "any mechanism" although they carry CKA_ALLOWED_MECHANISMS = ().

Until issue 10 the schema gave every key an empty CKA_ALLOWED_MECHANISMS, which then meant
"any mechanism"; now an empty list allows none (an absent attribute allows all). The
migration to schema 3 marks the objects that existed, and the store reads their empty list
as absent, so an upgrade never locks a user out of their keys.
"""
from __future__ import annotations

import sqlite3

import pytest
from store_pins import check_pin

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKU, SessionFlag
from strongroom.pkcs11.errors import CKRError
from strongroom.storage.base import KdfParams
from strongroom.storage.sqlite import SqliteStore
from strongroom.token.application import Application
from strongroom.token.types import Mechanism

KDF = KdfParams(log2_n=10)
SO_PIN, USER_PIN = b"so-pin-1234", b"user-pin-1234"
RW = SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION


def _aes(label: str, allowed: tuple[int, ...]) -> dict:
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.TOKEN: True, CKA.PRIVATE: True,
            CKA.LABEL: label, CKA.ID: b"\x01", CKA.VALUE: bytes(range(32)), CKA.VALUE_LEN: 32,
            CKA.SENSITIVE: True, CKA.EXTRACTABLE: False, CKA.ENCRYPT: True, CKA.DECRYPT: True,
            CKA.ALLOWED_MECHANISMS: allowed}


def _old_store(path) -> tuple[int, int, int]:
    """A store with two keys, turned back into schema 2 (what 02edb35 plus the PIN-attempt
    columns wrote): the migration to 3 then runs on the next open, as after an upgrade."""
    old = SqliteStore(path)
    try:
        rec = old.create_token(0, "tok", SO_PIN, KDF)
        mk = check_pin(old, rec.token_id, CKU.SO, SO_PIN)
        old.set_pin(rec.token_id, CKU.USER, mk, USER_PIN, KDF)
        legacy = old.create_object(rec.token_id, _aes("legacy", ()), mk)
        narrow = old.create_object(rec.token_id, _aes("narrow", (CKM.AES_CBC,)), mk)
    finally:
        old.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("ALTER TABLE tokens DROP COLUMN legacy_allowed_max_id")
        conn.execute("UPDATE schema_version SET version = 2")
    conn.close()
    return rec.token_id, legacy, narrow


def test_older_empty_list_reads_as_absent(tmp_path):
    path = tmp_path / "strongroom.db"
    tid, legacy, narrow = _old_store(path)
    store = SqliteStore(path)
    try:
        mk = check_pin(store, tid, CKU.USER, USER_PIN)
        assert CKA.ALLOWED_MECHANISMS not in store.load_object(tid, legacy, mk)
        assert store.load_object(tid, narrow, mk)[CKA.ALLOWED_MECHANISMS] == (CKM.AES_CBC,)
        fresh = store.create_object(tid, _aes("new", ()), mk)     # made after the upgrade
        assert store.load_object(tid, fresh, mk)[CKA.ALLOWED_MECHANISMS] == ()
        store.update_object(tid, legacy, {CKA.LABEL: "renamed"}, mk)   # rewritten consistently
        attrs = store.load_object(tid, legacy, mk)
        assert attrs[CKA.LABEL] == "renamed" and CKA.ALLOWED_MECHANISMS not in attrs
    finally:
        store.close()


def test_core_uses_an_upgraded_key_with_any_mechanism(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "strongroom.toml").write_text("kdf_log2_n = 10\n")
    monkeypatch.setenv("STRONGROOM_HOME", str(home))
    monkeypatch.setenv("STRONGROOM_CONFIG", str(home / "strongroom.toml"))
    _old_store(home / "strongroom.db")
    lib = Application()
    lib.initialize(None)
    try:
        h = lib.sessions.open_session(0, RW)
        lib.sessions.login(h, CKU.USER, USER_PIN)
        lib.objects.find_objects_init(h, [(CKA.LABEL, "legacy")])
        (key,) = lib.objects.find_objects(h, 10)
        lib.objects.find_objects_final(h)
        lib.crypto.encrypt_init(h, Mechanism(CKM.AES_ECB), key)       # any mechanism, as before
        assert len(lib.crypto.encrypt(h, bytes(16), 16)) == 16
        new = lib.objects.create_object(h, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                    (CKA.TOKEN, True), (CKA.VALUE, bytes(32)), (CKA.ENCRYPT, True),
                                    (CKA.ALLOWED_MECHANISMS, ())])
        with pytest.raises(CKRError) as e:                      # a new empty list allows none
            lib.crypto.encrypt_init(h, Mechanism(CKM.AES_ECB), new)
        assert e.value.rv == CKR.MECHANISM_INVALID
    finally:
        lib.finalize()
