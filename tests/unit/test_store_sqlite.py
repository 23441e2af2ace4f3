"""SqliteStore behaviour: tokens, PINs, objects, quota and find, on real files and crypto."""
from __future__ import annotations

import pytest
from store_pins import check_pin

from strongroom.pkcs11.constants import CKA, CKC, CKK, CKM, CKO, CKR, CKU
from strongroom.pkcs11.errors import CKRError
from strongroom.storage.base import KdfParams, Quota
from strongroom.storage.sqlite import SqliteStore

KDF = KdfParams(log2_n=10)
SO_PIN, USER_PIN = b"so-pin-1234", b"user-pin-1234"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "strongroom.db")
    yield s
    s.close()


@pytest.fixture
def token(store):
    """(token_id, master key) of a token with an initialised user PIN."""
    rec = store.create_token(0, "tok", SO_PIN, KDF)
    mk = check_pin(store, rec.token_id, CKU.SO, SO_PIN)
    store.set_pin(rec.token_id, CKU.USER, mk, USER_PIN, KDF)
    return rec.token_id, mk


def _secret(label: str, private: bool = True, value: bytes = bytes(range(32))) -> dict:
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.TOKEN: True, CKA.PRIVATE: private,
            CKA.LABEL: label, CKA.ID: b"\x01", CKA.VALUE: value, CKA.VALUE_LEN: len(value),
            CKA.SENSITIVE: True, CKA.EXTRACTABLE: False, CKA.ENCRYPT: True, CKA.DECRYPT: True}


def _data(label: str, value: bytes = b"payload") -> dict:
    return {CKA.CLASS: CKO.DATA, CKA.TOKEN: True, CKA.PRIVATE: False, CKA.LABEL: label,
            CKA.APPLICATION: "app", CKA.VALUE: value}


# --- tokens and PINs ------------------------------------------------------------------

def test_create_token_record(store):
    rec = store.create_token(3, "my token", SO_PIN, KDF)
    assert rec.slot_id == 3 and rec.label == "my token"
    assert len(rec.serial) == 16 and rec.serial == rec.serial.upper()
    int(rec.serial, 16)
    assert len(rec.uuid) == 16 and not rec.user_pin_initialized
    assert (rec.user_failures, rec.so_failures, rec.object_count, rec.bytes_used) == (0, 0, 0, 0)
    assert store.list_tokens() == [rec] and store.get_token(rec.token_id) == rec


def test_slot_taken_and_list_order(store):
    store.create_token(5, "b", SO_PIN, KDF)
    store.create_token(1, "a", SO_PIN, KDF)
    with pytest.raises(CKRError) as e:
        store.create_token(5, "c", SO_PIN, KDF)
    assert e.value.rv == CKR.SLOT_ID_INVALID
    assert [t.slot_id for t in store.list_tokens()] == [1, 5]


def test_pins_unwrap_and_wrong_pin(store, token):
    tid, mk = token
    assert len(mk) == 32
    assert check_pin(store, tid, CKU.USER, USER_PIN) == mk
    assert check_pin(store, tid, CKU.USER, SO_PIN) is None      # wraps bound to user type
    assert check_pin(store, tid, CKU.SO, b"wrong") is None
    assert check_pin(store, tid, CKU.CONTEXT_SPECIFIC, USER_PIN) == mk
    assert store.get_token(tid).user_pin_initialized


def test_user_pin_absent_before_init_pin(store):
    rec = store.create_token(0, "t", SO_PIN, KDF)
    with pytest.raises(CKRError) as e:
        check_pin(store, rec.token_id, CKU.USER, SO_PIN)
    assert e.value.rv == CKR.USER_PIN_NOT_INITIALIZED
    assert store.get_token(rec.token_id).user_failures == 0     # nothing spent


def test_set_pin_rewraps_only(store, token):
    tid, mk = token
    obj = store.create_object(tid, _secret("k"), mk)
    assert check_pin(store, tid, CKU.USER, b"wrong") is None
    assert store.get_token(tid).user_failures == 1
    store.set_pin(tid, CKU.USER, mk, b"new-user-pin", KdfParams(log2_n=11))
    assert check_pin(store, tid, CKU.USER, USER_PIN) is None
    assert check_pin(store, tid, CKU.USER, b"new-user-pin") == mk
    assert store.get_token(tid).user_failures == 0
    assert store.load_object(tid, obj, mk)[CKA.VALUE] == bytes(range(32))


def test_set_pin_refuses_foreign_master_key(store, token):
    tid, _ = token
    with pytest.raises(CKRError) as e:
        store.set_pin(tid, CKU.USER, bytes(32), b"x", KDF)
    assert e.value.rv == CKR.GENERAL_ERROR


def test_pin_failure_counters(store, token):
    """Each user type has its own counter: wrong PINs count, a right one resets only its own."""
    tid, mk = token
    failures = []
    for _ in range(3):
        assert check_pin(store, tid, CKU.USER, b"wrong") is None
        failures.append(store.get_token(tid).user_failures)
    assert failures == [1, 2, 3]
    assert check_pin(store, tid, CKU.SO, b"wrong") is None
    rec = store.get_token(tid)
    assert (rec.user_failures, rec.so_failures) == (3, 1)
    assert check_pin(store, tid, CKU.USER, USER_PIN) == mk
    rec = store.get_token(tid)
    assert (rec.user_failures, rec.so_failures) == (0, 1)


def test_set_label_reinit_and_delete(store, token):
    tid, mk = token
    store.create_object(tid, _secret("k"), mk)
    before = store.get_token(tid)
    store.set_label(tid, "renamed")
    rec = store.reinit_token(tid, "fresh", b"new-so-pin", KDF)
    assert (rec.slot_id, rec.serial, rec.label) == (before.slot_id, before.serial, "fresh")
    assert rec.object_count == 0 and rec.bytes_used == 0 and not rec.user_pin_initialized
    assert rec.uuid != before.uuid
    new_mk = check_pin(store, tid, CKU.SO, b"new-so-pin")
    assert new_mk is not None and new_mk != mk
    assert check_pin(store, tid, CKU.SO, SO_PIN) is None
    assert store.find_objects(tid, {}, new_mk) == []
    store.delete_token(tid)
    assert store.list_tokens() == []
    for call in (lambda: store.get_token(tid), lambda: store.delete_token(tid)):
        with pytest.raises(CKRError) as e:
            call()
        assert e.value.rv == CKR.TOKEN_NOT_PRESENT


# --- objects --------------------------------------------------------------------------

ROUND_TRIP = {
    CKA.CLASS: CKO.CERTIFICATE,                                  # ULONG
    CKA.CERTIFICATE_TYPE: CKC.X_509,
    CKA.TOKEN: True, CKA.MODIFIABLE: False,                      # BOOL
    CKA.LABEL: "Zertifikat \u00e9\u00e8 \u2603",                 # STRING (UTF-8)
    CKA.SUBJECT: b"\x30\x00", CKA.VALUE: bytes(range(256)),      # BYTES
    CKA.ID: b"",                                                 # empty BYTES
    CKA.START_DATE: b"20240131", CKA.END_DATE: b"",              # DATE
    CKA.ALLOWED_MECHANISMS: (CKM.SHA256_RSA_PKCS, CKM.ECDSA),     # MECHANISMS
    CKA.WRAP_TEMPLATE: ((CKA.CLASS, CKO.SECRET_KEY), (CKA.EXTRACTABLE, True)),  # TEMPLATE
    0x80001234: b"vendor",                                       # unknown -> bytes
}


@pytest.mark.parametrize("private", [False, True])
def test_round_trip_every_kind(store, token, private):
    tid, mk = token
    attrs = {**ROUND_TRIP, CKA.PRIVATE: private}
    oid = store.create_object(tid, attrs, mk if private else None)
    loaded = store.load_object(tid, oid, mk if private else None)
    assert loaded == attrs
    assert store.object_private(tid, oid) is private


def test_ids_positive_increasing_never_reused(store, token):
    tid, _ = token
    a = store.create_object(tid, _data("a"), None)
    b = store.create_object(tid, _data("b"), None)
    assert 0 < a < b
    store.destroy_object(tid, b)
    assert store.create_object(tid, _data("c"), None) > b
    assert store.object_private(tid, b) is None
    with pytest.raises(CKRError) as e:
        store.load_object(tid, b, None)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID
    with pytest.raises(CKRError) as e:
        store.destroy_object(tid, b)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID


def test_private_object_needs_master_key(store, token):
    tid, mk = token
    oid = store.create_object(tid, _secret("k"), mk)
    with pytest.raises(CKRError) as e:
        store.load_object(tid, oid, None)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID
    with pytest.raises(CKRError) as e:
        store.create_object(tid, _secret("k2"), None)
    assert e.value.rv == CKR.USER_NOT_LOGGED_IN
    assert store.find_objects(tid, {}, None) == []
    assert store.find_objects(tid, {CKA.LABEL: "k"}, None) == []
    assert store.find_objects(tid, {CKA.LABEL: "k"}, mk) == [oid]


def test_objects_of_other_tokens_are_invisible(store, token):
    tid, _ = token
    other = store.create_token(1, "other", SO_PIN, KDF).token_id
    oid = store.create_object(tid, _data("mine"), None)
    assert store.find_objects(other, {CKA.LABEL: "mine"}, None) == []
    assert store.object_private(other, oid) is None
    with pytest.raises(CKRError) as e:
        store.load_object(other, oid, None)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID


def test_update_object(store, token):
    tid, mk = token
    oid = store.create_object(tid, _secret("old"), mk)
    store.update_object(tid, oid, {CKA.LABEL: "new", CKA.ID: b"\x02\x03"}, mk)
    loaded = store.load_object(tid, oid, mk)
    assert loaded[CKA.LABEL] == "new" and loaded[CKA.ID] == b"\x02\x03"
    assert loaded[CKA.VALUE] == bytes(range(32))
    assert store.find_objects(tid, {CKA.LABEL: "old"}, mk) == []
    assert store.find_objects(tid, {CKA.LABEL: "new"}, mk) == [oid]
    with pytest.raises(CKRError) as e:
        store.update_object(tid, oid, {CKA.LABEL: "x"}, None)
    assert e.value.rv == CKR.OBJECT_HANDLE_INVALID


def test_update_privacy_moves_object_between_key_domains(store, token):
    tid, mk = token
    oid = store.create_object(tid, _data("d"), None)
    store.update_object(tid, oid, {CKA.PRIVATE: True}, mk)
    assert store.object_private(tid, oid) is True
    assert store.find_objects(tid, {CKA.LABEL: "d"}, None) == []
    assert store.find_objects(tid, {CKA.LABEL: "d"}, mk) == [oid]
    assert store.load_object(tid, oid, mk)[CKA.VALUE] == b"payload"


def test_bytes_used_tracks_objects(store, token):
    tid, _ = token
    oid = store.create_object(tid, _data("d", b"x" * 1000), None)
    rec = store.get_token(tid)
    assert rec.object_count == 1 and rec.bytes_used > 1000
    store.update_object(tid, oid, {CKA.VALUE: b"x" * 10}, None)
    assert store.get_token(tid).bytes_used < 1000
    store.destroy_object(tid, oid)
    rec = store.get_token(tid)
    assert (rec.object_count, rec.bytes_used) == (0, 0)


# --- quota ------------------------------------------------------------------------------

def test_quota_objects(tmp_path):
    store = SqliteStore(tmp_path / "q.db", Quota(max_objects=2))
    tid = store.create_token(0, "t", SO_PIN, KDF).token_id
    store.create_object(tid, _data("a"), None)
    store.create_object(tid, _data("b"), None)
    with pytest.raises(CKRError) as e:
        store.create_object(tid, _data("c"), None)
    assert e.value.rv == CKR.DEVICE_MEMORY
    rec = store.get_token(tid)
    assert rec.object_count == 2
    assert store.find_objects(tid, {CKA.LABEL: "c"}, None) == []


def test_quota_bytes_create_and_update(tmp_path):
    store = SqliteStore(tmp_path / "q.db", Quota(max_bytes=2000))
    tid = store.create_token(0, "t", SO_PIN, KDF).token_id
    oid = store.create_object(tid, _data("a", b"v" * 1000), None)
    before = store.get_token(tid)
    with pytest.raises(CKRError) as e:
        store.create_object(tid, _data("b", b"v" * 1500), None)
    assert e.value.rv == CKR.DEVICE_MEMORY
    with pytest.raises(CKRError) as e:
        store.update_object(tid, oid, {CKA.VALUE: b"w" * 2500}, None)
    assert e.value.rv == CKR.DEVICE_MEMORY
    assert store.get_token(tid) == before
    assert store.load_object(tid, oid, None)[CKA.VALUE] == b"v" * 1000


# --- find -------------------------------------------------------------------------------

def test_find_semantics(store, token):
    tid, mk = token
    pub = store.create_object(tid, _data("same"), None)
    priv = store.create_object(tid, _secret("same"), mk)
    other = store.create_object(tid, _data("other", b"other value"), None)
    assert store.find_objects(tid, {CKA.LABEL: "same"}, mk) == [pub, priv]
    assert store.find_objects(tid, {CKA.LABEL: "same"}, None) == [pub]
    assert store.find_objects(tid, {}, mk) == [pub, priv, other]
    assert store.find_objects(tid, {CKA.CLASS: CKO.DATA, CKA.LABEL: "same"}, mk) == [pub]
    assert store.find_objects(tid, {CKA.CLASS: CKO.SECRET_KEY, CKA.ENCRYPT: True}, mk) == [priv]
    assert store.find_objects(tid, {CKA.CLASS: CKO.SECRET_KEY, CKA.ENCRYPT: False}, mk) == []
    # non-indexed attributes are compared after the index narrowed the candidates
    assert store.find_objects(tid, {CKA.VALUE: b"other value"}, mk) == [other]
    assert store.find_objects(tid, {CKA.LABEL: "same", CKA.VALUE: b"payload"}, mk) == [pub]
    assert store.find_objects(tid, {CKA.VALUE: bytes(range(32))}, mk) == [priv]
    assert store.find_objects(tid, {CKA.VALUE: bytes(range(32))}, None) == []
    # an attribute the object lacks never matches
    assert store.find_objects(tid, {CKA.KEY_TYPE: CKK.AES}, mk) == [priv]
    assert store.find_objects(tid, {CKA.LABEL: "same", CKA.START_DATE: b""}, mk) == []


def test_find_with_many_template_attributes(store, token):
    tid, mk = token
    attrs = _secret("many")
    oid = store.create_object(tid, attrs, mk)
    assert store.find_objects(tid, attrs, mk) == [oid]          # > _MAX_JOIN attributes
    assert store.find_objects(tid, {**attrs, CKA.DECRYPT: False}, mk) == []


def test_find_by_label_among_2000(tmp_path):
    store = SqliteStore(tmp_path / "many.db")
    tid = store.create_token(0, "t", SO_PIN, KDF).token_id
    mk = check_pin(store, tid, CKU.SO, SO_PIN)
    ids = {}
    for i in range(2000):
        attrs = _secret(f"key-{i}") if i % 2 else _data(f"key-{i}")
        ids[i] = store.create_object(tid, attrs, mk if i % 2 else None)
    assert store.find_objects(tid, {CKA.LABEL: "key-1234"}, None) == [ids[1234]]
    assert store.find_objects(tid, {CKA.LABEL: "key-1777"}, mk) == [ids[1777]]
    assert store.find_objects(tid, {CKA.LABEL: "key-1777"}, None) == []
    assert store.find_objects(tid, {CKA.CLASS: CKO.SECRET_KEY, CKA.LABEL: "key-999"}, mk) == [ids[999]]
    assert store.find_objects(tid, {CKA.LABEL: "nope"}, mk) == []
    assert len(store.find_objects(tid, {CKA.CLASS: CKO.DATA}, mk)) == 1000
    store.close()
