"""Secrets at rest: what the SQLite files reveal, and what editing them does.

Someone editing the file is a tampered store: loads fail with CKR_GENERAL_ERROR (not a
data error: the application did nothing wrong), and never with the data in the message.
"""
from __future__ import annotations

import sqlite3

import pytest
from store_pins import check_pin

from strongroom.pkcs11.constants import CKA, CKC, CKK, CKO, CKR, CKU
from strongroom.pkcs11.errors import CKRError
from strongroom.storage import kdf, sealing
from strongroom.storage.base import KdfParams
from strongroom.storage.sqlite import SqliteStore

KDF = KdfParams(log2_n=10)
SO_PIN = b"so-pin-1234"
USER_PIN = b"Known-User-PIN-xyzzy"
KEY = bytes.fromhex("8f3a1c2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8")
KEY2 = bytes(reversed(KEY))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "strongroom.db"


@pytest.fixture
def setup(db):
    store = SqliteStore(db)
    tid = store.create_token(0, "t", SO_PIN, KDF).token_id
    mk = check_pin(store, tid, CKU.SO, SO_PIN)
    store.set_pin(tid, CKU.USER, mk, USER_PIN, KDF)
    yield store, tid, mk
    store.close()


def _key(label: str, value: bytes, private: bool = True) -> dict:
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.TOKEN: True, CKA.PRIVATE: private,
            CKA.LABEL: label, CKA.VALUE: value, CKA.SENSITIVE: True, CKA.EXTRACTABLE: False}


def _edit(db, sql: str, *args) -> None:
    """Edit the file behind the store's back, as an attacker with write access would."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(sql, args)
    conn.close()


def _tampered(call) -> None:
    with pytest.raises(CKRError) as e:
        call()
    assert e.value.rv == CKR.GENERAL_ERROR
    assert KEY.hex() not in str(e.value) and "label" not in str(e.value)


def _files_blob(db) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


# --- nothing secret in the files --------------------------------------------------------

def test_byte_scan_finds_no_key_or_pin(setup, db):
    store, tid, mk = setup
    store.create_object(tid, _key("private-aes", KEY), mk)
    store.create_object(tid, _key("public-aes", KEY2, private=False), None)
    store.create_object(tid, {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.TOKEN: True,
                              CKA.PRIVATE: False, CKA.LABEL: "rsa", CKA.MODULUS: b"\x01" * 64,
                              CKA.PRIVATE_EXPONENT: KEY * 2, CKA.PRIME_1: KEY2}, None)
    blob = _files_blob(db)
    assert b"SQLite format 3" in blob and len(blob) > 10_000
    assert any(p.name.endswith("-wal") for p in db.parent.iterdir())
    for secret in (KEY, KEY2, KEY * 2, mk, USER_PIN, SO_PIN, b"private-aes"):
        assert secret not in blob
    assert b"public-aes" in blob        # public, non-secret attributes stay in the clear


def test_private_object_unreadable_without_master_key(setup, db):
    store, tid, mk = setup
    oid = store.create_object(tid, _key("k", KEY), mk)
    with pytest.raises(CKRError) as e:
        store.load_object(tid, oid, None)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID
    # Even the public seal key (in the file) does not open it: pretend the object is public.
    _edit(db, "UPDATE objects SET private = 0 WHERE id = ?", oid)
    _tampered(lambda: store.load_object(tid, oid, None))


def test_wrong_master_key_is_refused(setup):
    store, tid, mk = setup
    oid = store.create_object(tid, _key("k", KEY), mk)
    _tampered(lambda: store.load_object(tid, oid, bytes(32)))
    _tampered(lambda: store.create_object(tid, _key("k2", KEY), bytes(32)))


# --- tampering -------------------------------------------------------------------------

def _value(db, oid: int, cka: int) -> bytes:
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT value FROM attributes WHERE object_id = ? AND type = ?",
                       (oid, int(cka))).fetchone()
    conn.close()
    return bytes(row[0])


@pytest.mark.parametrize("private", [True, False])
def test_sealed_blob_swapped_between_objects(setup, db, private):
    store, tid, mk = setup
    key = mk if private else None
    a = store.create_object(tid, _key("a", KEY, private), key)
    b = store.create_object(tid, _key("b", KEY2, private), key)
    _edit(db, "UPDATE attributes SET value = ? WHERE object_id = ? AND type = ?",
          _value(db, a, CKA.VALUE), b, int(CKA.VALUE))
    assert store.load_object(tid, a, key)[CKA.VALUE] == KEY
    _tampered(lambda: store.load_object(tid, b, key))


def test_sealed_blob_swapped_between_attributes(setup, db):
    store, tid, mk = setup
    a = store.create_object(tid, _key("a", KEY), mk)
    _edit(db, "UPDATE attributes SET value = ? WHERE object_id = ? AND type = ?",
          _value(db, a, CKA.LABEL), a, int(CKA.VALUE))
    _tampered(lambda: store.load_object(tid, a, mk))


def test_sealed_blob_moved_between_tokens(setup, db):
    store, tid, mk = setup
    other = store.create_token(1, "o", SO_PIN, KDF).token_id
    omk = check_pin(store, other, CKU.SO, SO_PIN)
    a = store.create_object(tid, _key("a", KEY), mk)
    b = store.create_object(other, _key("b", KEY2), omk)
    _edit(db, "UPDATE objects SET uid = (SELECT uid FROM objects WHERE id = ?) WHERE id = ?", a, b)
    _edit(db, "UPDATE attributes SET value = ? WHERE object_id = ? AND type = ?",
          _value(db, a, CKA.VALUE), b, int(CKA.VALUE))
    _tampered(lambda: store.load_object(other, b, omk))


def test_deleted_attribute_row_is_detected(setup, db):
    store, tid, mk = setup
    a = store.create_object(tid, _key("a", KEY), mk)
    _edit(db, "DELETE FROM attributes WHERE object_id = ? AND type = ?", a, int(CKA.SENSITIVE))
    _tampered(lambda: store.load_object(tid, a, mk))


def test_plaintext_planted_in_private_object_is_detected(setup, db):
    store, tid, mk = setup
    a = store.create_object(tid, _key("a", KEY), mk)
    _edit(db, "UPDATE attributes SET value = x'01', sealed = 0 WHERE object_id = ? AND type = ?",
          a, int(CKA.EXTRACTABLE))
    _tampered(lambda: store.load_object(tid, a, mk))


def test_wrap_moved_from_so_to_user_does_not_open(setup, db):
    store, tid, _ = setup
    _edit(db, "UPDATE tokens SET user_wrap = so_wrap, user_salt = so_salt WHERE id = ?", tid)
    assert check_pin(store, tid, CKU.USER, SO_PIN) is None


# --- building blocks -------------------------------------------------------------------

def test_kdf_wrap_round_trip_and_params():
    uuid = bytes(16)
    salt, wrap = kdf.wrap_master_key(KEY, b"1234", KDF, uuid, CKU.USER)
    assert len(salt) == 16 and len(wrap) == 12 + 32 + 16
    assert kdf.unwrap_master_key(wrap, salt, b"1234", KDF, uuid, CKU.USER) == KEY
    assert kdf.unwrap_master_key(wrap, salt, b"1235", KDF, uuid, CKU.USER) is None
    assert kdf.unwrap_master_key(wrap, salt, b"1234", KdfParams(log2_n=11), uuid, CKU.USER) is None
    assert kdf.unwrap_master_key(wrap, salt, b"1234", KDF, b"\x01" * 16, CKU.USER) is None
    assert KdfParams().log2_n == 15
    for bad in (KdfParams(log2_n=4), KdfParams(log2_n=40), KdfParams(r=0)):
        with pytest.raises(CKRError) as e:
            kdf.derive_pin_key(b"1", bytes(16), bad)
        assert e.value.rv == CKR.ARGUMENTS_BAD


def test_what_is_sealed_and_indexed():
    pub_key = {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES}
    assert sealing.must_seal(pub_key, CKA.VALUE, private=False)
    assert not sealing.must_seal(pub_key, CKA.LABEL, private=False)
    assert sealing.must_seal(pub_key, CKA.LABEL, private=True)
    for cka in (CKA.CLASS, CKA.PRIVATE, CKA.TOKEN):
        assert not sealing.must_seal(pub_key, cka, private=True)
    rsa = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA}
    for cka in (CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2,
                CKA.COEFFICIENT):
        assert sealing.must_seal(rsa, cka, private=False)
        assert not sealing.indexed(cka)
    assert not sealing.indexed(CKA.VALUE)
    for cka in (CKA.LABEL, CKA.ID, CKA.CLASS, CKA.SIGN, CKA.MODULUS, CKA.EC_POINT, CKA.UNIQUE_ID):
        assert sealing.indexed(cka)
    for obj in ({CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES},
                {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA},
                {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC},
                {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.RSA},
                {CKA.CLASS: CKO.CERTIFICATE, CKA.CERTIFICATE_TYPE: CKC.X_509},
                {CKA.CLASS: CKO.DATA}):
        assert not [c for c in CKA if sealing.indexed(c) and sealing.is_secret(obj, c)]
