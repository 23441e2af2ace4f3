"""The token core driven in-process: slots, sessions, login state, objects, operations.

These run the real store (SQLite in a temp home) and real crypto; the C ABI has its own
tests. Every assertion names the CKR the spec requires.
"""
from __future__ import annotations

import contextlib

import pytest

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKS, CKU, SessionFlag, TokenFlag
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.template import Unreadable
from strongroom.token.application import Application
from strongroom.token.types import Mechanism

RW = SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION
RO = SessionFlag.SERIAL_SESSION
SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
P256 = bytes.fromhex("06082a8648ce3d030107")


def rv(exc_info) -> int:
    return exc_info.value.rv


@pytest.fixture
def lib(home):
    library = Application()
    library.initialize(None)
    yield library
    with contextlib.suppress(CKRError):
        library.finalize()


@pytest.fixture
def token(lib):
    """A token in slot 0 with a user PIN; returns a logged-in R/W session handle."""
    lib.slots.init_token(0, SO_PIN, "test token")
    h = lib.sessions.open_session(0, RW)
    lib.sessions.login(h, CKU.SO, SO_PIN)
    lib.sessions.init_pin(h, USER_PIN)
    lib.sessions.logout(h)
    lib.sessions.login(h, CKU.USER, USER_PIN)
    return h


def ec_pair(lib, h, *, token=True, private_extra=()):
    return lib.keys.generate_key_pair(
        h, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256), (CKA.TOKEN, token), (CKA.VERIFY, True), (CKA.LABEL, "k")],
        [(CKA.TOKEN, token), (CKA.SIGN, True), (CKA.LABEL, "k"), (CKA.ID, b"\x01"), *private_extra],
    )


def test_not_initialized_and_double_initialize(home):
    library = Application()
    with pytest.raises(CKRError) as e:
        library.get_info()
    assert rv(e) == CKR.CRYPTOKI_NOT_INITIALIZED
    library.initialize(None)
    with pytest.raises(CKRError) as e:
        library.initialize(None)
    assert rv(e) == CKR.CRYPTOKI_ALREADY_INITIALIZED
    library.finalize()
    with pytest.raises(CKRError) as e:
        library.finalize()
    assert rv(e) == CKR.CRYPTOKI_NOT_INITIALIZED


def test_always_one_free_slot_and_stable_serial(lib):
    assert lib.slots.get_slot_list(True) == [0]
    info = lib.slots.get_token_info(0)
    assert not info.flags & TokenFlag.TOKEN_INITIALIZED
    lib.slots.init_token(0, SO_PIN, "first")
    assert lib.slots.get_slot_list(False) == [0, 1]
    info = lib.slots.get_token_info(0)
    assert info.flags & TokenFlag.TOKEN_INITIALIZED
    assert not info.flags & TokenFlag.USER_PIN_INITIALIZED
    assert info.label == "first" and len(info.serial_number) == 16
    lib.slots.init_token(1, SO_PIN, "second")
    assert lib.slots.get_slot_list(True) == [0, 1, 2]
    serial = info.serial_number
    lib.finalize()
    lib.initialize(None)
    assert lib.slots.get_token_info(0).serial_number == serial
    with pytest.raises(CKRError) as e:
        lib.slots.get_slot_info(7)
    assert rv(e) == CKR.SLOT_ID_INVALID


def test_session_rules(lib):
    with pytest.raises(CKRError) as e:
        lib.sessions.open_session(0, RW)
    assert rv(e) == CKR.TOKEN_NOT_RECOGNIZED
    lib.slots.init_token(0, SO_PIN, "t")
    with pytest.raises(CKRError) as e:
        lib.sessions.open_session(0, SessionFlag.RW_SESSION)
    assert rv(e) == CKR.SESSION_PARALLEL_NOT_SUPPORTED
    ro = lib.sessions.open_session(0, RO)
    assert lib.sessions.get_session_info(ro).state == CKS.RO_PUBLIC_SESSION
    with pytest.raises(CKRError) as e:
        lib.sessions.login(ro, CKU.SO, SO_PIN)
    assert rv(e) == CKR.SESSION_READ_ONLY_EXISTS
    with pytest.raises(CKRError) as e:
        lib.slots.init_token(0, SO_PIN, "t")
    assert rv(e) == CKR.SESSION_EXISTS
    lib.sessions.close_session(ro)
    with pytest.raises(CKRError) as e:
        lib.sessions.close_session(ro)
    assert rv(e) == CKR.SESSION_HANDLE_INVALID


def test_login_state_is_shared_by_all_sessions(lib, token):
    other = lib.sessions.open_session(0, RO)
    assert lib.sessions.get_session_info(other).state == CKS.RO_USER_FUNCTIONS
    assert lib.sessions.get_session_info(token).state == CKS.RW_USER_FUNCTIONS
    with pytest.raises(CKRError) as e:
        lib.sessions.login(other, CKU.USER, USER_PIN)
    assert rv(e) == CKR.USER_ALREADY_LOGGED_IN
    with pytest.raises(CKRError) as e:
        lib.sessions.login(other, CKU.SO, SO_PIN)
    assert rv(e) == CKR.USER_ANOTHER_ALREADY_LOGGED_IN
    lib.sessions.logout(other)
    assert lib.sessions.get_session_info(token).state == CKS.RW_PUBLIC_SESSION
    with pytest.raises(CKRError) as e:
        lib.sessions.logout(token)
    assert rv(e) == CKR.USER_NOT_LOGGED_IN


def test_closing_last_session_logs_out(lib, token):
    lib.sessions.close_session(token)
    h = lib.sessions.open_session(0, RW)
    assert lib.sessions.get_session_info(h).state == CKS.RW_PUBLIC_SESSION


def test_pin_rules(lib):
    with pytest.raises(CKRError) as e:
        lib.slots.init_token(0, b"12", "t")
    assert rv(e) == CKR.PIN_LEN_RANGE
    lib.slots.init_token(0, SO_PIN, "t")
    h = lib.sessions.open_session(0, RW)
    with pytest.raises(CKRError) as e:
        lib.sessions.login(h, CKU.USER, USER_PIN)
    assert rv(e) == CKR.USER_PIN_NOT_INITIALIZED
    with pytest.raises(CKRError) as e:
        lib.sessions.init_pin(h, USER_PIN)
    assert rv(e) == CKR.USER_NOT_LOGGED_IN
    lib.sessions.login(h, CKU.SO, SO_PIN)
    with pytest.raises(CKRError) as e:
        lib.sessions.init_pin(h, b"1")
    assert rv(e) == CKR.PIN_LEN_RANGE
    lib.sessions.init_pin(h, USER_PIN)
    assert lib.slots.get_token_info(0).flags & TokenFlag.USER_PIN_INITIALIZED
    lib.sessions.logout(h)
    lib.sessions.set_pin(h, USER_PIN, b"new-user-pin")        # not logged in: changes the user PIN
    with pytest.raises(CKRError) as e:
        lib.sessions.login(h, CKU.USER, USER_PIN)
    assert rv(e) == CKR.PIN_INCORRECT
    lib.sessions.login(h, CKU.USER, b"new-user-pin")
    ro = lib.sessions.open_session(0, RO)
    with pytest.raises(CKRError) as e:
        lib.sessions.set_pin(ro, b"new-user-pin", USER_PIN)
    assert rv(e) == CKR.SESSION_READ_ONLY


def test_pin_lockout_flags_persist_and_so_unlocks(lib, token):
    lib.sessions.logout(token)
    expected = [TokenFlag.USER_PIN_COUNT_LOW] * 3 + [TokenFlag.USER_PIN_FINAL_TRY]
    for flag in expected:          # config: pin_max_tries = 5
        with pytest.raises(CKRError) as e:
            lib.sessions.login(token, CKU.USER, b"wrong-pin")
        assert rv(e) == CKR.PIN_INCORRECT
        assert lib.slots.get_token_info(0).flags & flag
    with pytest.raises(CKRError) as e:
        lib.sessions.login(token, CKU.USER, b"wrong-pin")
    assert rv(e) == CKR.PIN_INCORRECT
    with pytest.raises(CKRError) as e:
        lib.sessions.login(token, CKU.USER, USER_PIN)          # right PIN, but locked now
    assert rv(e) == CKR.PIN_LOCKED
    # A fresh library instance (same store) still sees the lock.
    lib.finalize()
    lib.initialize(None)
    assert lib.slots.get_token_info(0).flags & TokenFlag.USER_PIN_LOCKED
    h = lib.sessions.open_session(0, RW)
    lib.sessions.login(h, CKU.SO, SO_PIN)
    lib.sessions.init_pin(h, b"fresh-user-pin")
    lib.sessions.logout(h)
    assert not lib.slots.get_token_info(0).flags & (TokenFlag.USER_PIN_LOCKED | TokenFlag.USER_PIN_COUNT_LOW)
    lib.sessions.login(h, CKU.USER, b"fresh-user-pin")


def test_private_objects_invisible_without_login(lib, token):
    pub, priv = ec_pair(lib, token)
    lib.objects.find_objects_init(token, [(CKA.LABEL, "k")])
    assert sorted(lib.objects.find_objects(token, 10)) == sorted([pub, priv])
    lib.objects.find_objects_final(token)
    lib.sessions.logout(token)
    lib.objects.find_objects_init(token, [(CKA.LABEL, "k")])
    assert lib.objects.find_objects(token, 10) == [pub]
    lib.objects.find_objects_final(token)
    with pytest.raises(CKRError) as e:
        lib.objects.get_attribute_value(token, priv, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID


def test_session_objects_vanish_token_objects_persist(lib, token):
    other = lib.sessions.open_session(0, RW)
    spub, spriv = ec_pair(lib, other, token=False)
    tpub, tpriv = ec_pair(lib, token, token=True)
    assert lib.objects.get_attribute_value(token, spub, [CKA.TOKEN]) == [False]   # visible to the app
    lib.sessions.close_session(other)
    with pytest.raises(CKRError) as e:
        lib.objects.get_attribute_value(token, spub, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID
    lib.finalize()
    lib.initialize(None)
    h = lib.sessions.open_session(0, RO)
    lib.sessions.login(h, CKU.USER, USER_PIN)
    # handles belong to the application: after C_Finalize the old ones mean nothing and
    # are not reused; the object itself persists and is found again
    with pytest.raises(CKRError) as e:
        lib.objects.get_attribute_value(h, tpriv, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID
    lib.objects.find_objects_init(h, [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.TOKEN, True)])
    (found,) = lib.objects.find_objects(h, 10)
    lib.objects.find_objects_final(h)
    assert found not in (spub, spriv, tpub, tpriv)
    assert lib.objects.get_attribute_value(h, found, [CKA.LABEL, CKA.TOKEN]) == ["k", True]


def test_token_objects_need_rw_and_private_need_login(lib, token):
    ro = lib.sessions.open_session(0, RO)
    with pytest.raises(CKRError) as e:
        lib.objects.create_object(ro, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, True)])
    assert rv(e) == CKR.SESSION_READ_ONLY
    lib.sessions.logout(token)
    with pytest.raises(CKRError) as e:
        lib.objects.create_object(token, [(CKA.CLASS, CKO.DATA), (CKA.PRIVATE, True)])
    assert rv(e) == CKR.USER_NOT_LOGGED_IN
    h = lib.objects.create_object(ro, [(CKA.CLASS, CKO.DATA), (CKA.LABEL, "session data"), (CKA.VALUE, b"x")])
    assert lib.objects.get_attribute_value(ro, h, [CKA.VALUE, CKA.PRIVATE]) == [b"x", False]


def test_sensitive_values_never_readable(lib, token):
    _pub, priv = ec_pair(lib, token)
    values = lib.objects.get_attribute_value(token, priv, [CKA.VALUE, CKA.EC_PARAMS, CKA.SENSITIVE, 0x7FFF_0000])
    assert values[0] is Unreadable.SENSITIVE
    assert values[1] == P256
    assert values[2] is True
    assert values[3] is Unreadable.INVALID
    with pytest.raises(CKRError) as e:
        lib.objects.set_attribute_value(token, priv, [(CKA.SENSITIVE, False)])
    assert rv(e) == CKR.ATTRIBUTE_READ_ONLY
    attrs = lib.objects.get_attribute_value(token, priv, [CKA.LOCAL, CKA.ALWAYS_SENSITIVE, CKA.KEY_GEN_MECHANISM])
    assert attrs == [True, True, CKM.EC_KEY_PAIR_GEN]


def test_sign_two_call_convention_and_verify(lib, token):
    pub, priv = ec_pair(lib, token)
    digest = bytes(range(32))
    lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), priv)
    # a size query and a too-small buffer answer the length needed (a plain int)
    assert lib.signatures.sign(token, digest, None) == 64
    assert lib.signatures.sign(token, digest, 10) == 64
    signature = lib.signatures.sign(token, digest, 64)          # the operation survived both
    assert len(signature) == 64
    with pytest.raises(CKRError) as e:
        lib.signatures.sign(token, digest, 64)
    assert rv(e) == CKR.OPERATION_NOT_INITIALIZED
    lib.signatures.verify_init(token, Mechanism(CKM.ECDSA), pub)
    lib.signatures.verify(token, digest, signature)
    lib.signatures.verify_init(token, Mechanism(CKM.ECDSA), pub)
    with pytest.raises(CKRError) as e:
        lib.signatures.verify(token, bytes(32), signature)
    assert rv(e) == CKR.SIGNATURE_INVALID


def test_key_checks_at_init(lib, token):
    pub, priv = ec_pair(lib, token, private_extra=[(CKA.ALLOWED_MECHANISMS, (CKM.ECDSA_SHA256,))])
    with pytest.raises(CKRError) as e:
        lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), priv)
    assert rv(e) == CKR.MECHANISM_INVALID
    lib.signatures.sign_init(token, Mechanism(CKM.ECDSA_SHA256), priv)
    lib.signatures.sign_update(token, b"hello ")
    lib.signatures.sign_update(token, b"world")
    assert len(lib.signatures.sign_final(token, 64)) == 64
    with pytest.raises(CKRError) as e:
        lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), pub)
    assert rv(e) == CKR.KEY_TYPE_INCONSISTENT
    with pytest.raises(CKRError) as e:
        lib.signatures.sign_init(token, Mechanism(CKM.SHA256_RSA_PKCS), priv)
    assert rv(e) == CKR.KEY_TYPE_INCONSISTENT
    with pytest.raises(CKRError) as e:
        lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), 424242)
    assert rv(e) == CKR.KEY_HANDLE_INVALID
    _, nosign = lib.keys.generate_key_pair(
        token, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256)], [(CKA.SIGN, False)])
    with pytest.raises(CKRError) as e:
        lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), nosign)
    assert rv(e) == CKR.KEY_FUNCTION_NOT_PERMITTED


def test_always_authenticate_needs_context_login(lib, token):
    _, priv = ec_pair(lib, token, private_extra=[(CKA.ALWAYS_AUTHENTICATE, True)])
    lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), priv)
    with pytest.raises(CKRError) as e:
        lib.signatures.sign(token, bytes(32), 64)
    assert rv(e) == CKR.USER_NOT_LOGGED_IN
    lib.signatures.sign_init(token, Mechanism(CKM.ECDSA), priv)
    with pytest.raises(CKRError) as e:
        lib.sessions.login(token, CKU.CONTEXT_SPECIFIC, b"wrong-pin")
    assert rv(e) == CKR.PIN_INCORRECT
    lib.sessions.login(token, CKU.CONTEXT_SPECIFIC, USER_PIN)
    assert len(lib.signatures.sign(token, bytes(32), 64)) == 64
    with pytest.raises(CKRError) as e:
        lib.sessions.login(token, CKU.CONTEXT_SPECIFIC, USER_PIN)
    assert rv(e) == CKR.OPERATION_NOT_INITIALIZED


def test_aes_gcm_and_digest(lib, token):
    from strongroom.pkcs11.params import GcmParams

    key = lib.keys.generate_key(token, Mechanism(CKM.AES_KEY_GEN),
                           [(CKA.VALUE_LEN, 32), (CKA.ENCRYPT, True), (CKA.DECRYPT, True)])
    params = GcmParams(iv=bytes(12), iv_bits=96, aad=b"hdr", tag_bits=128)
    lib.crypto.encrypt_init(token, Mechanism(CKM.AES_GCM, params), key)
    ct = lib.crypto.encrypt(token, b"secret message", 100)
    assert len(ct) == 14 + 16
    lib.crypto.decrypt_init(token, Mechanism(CKM.AES_GCM, params), key)
    assert lib.crypto.decrypt(token, ct, 100) == b"secret message"
    lib.crypto.decrypt_init(token, Mechanism(CKM.AES_GCM, params), key)
    with pytest.raises(CKRError) as e:
        lib.crypto.decrypt(token, ct[:-1] + bytes([ct[-1] ^ 1]), 100)
    assert rv(e) == CKR.ENCRYPTED_DATA_INVALID
    lib.crypto.digest_init(token, Mechanism(CKM.SHA256))
    lib.crypto.digest_update(token, b"ab")
    lib.crypto.digest_update(token, b"c")
    assert lib.crypto.digest_final(token, 32).hex().startswith("ba7816bf")


def test_reinit_wipes_objects_keeps_slot_and_serial(lib, token):
    ec_pair(lib, token)
    serial = lib.slots.get_token_info(0).serial_number
    lib.sessions.close_session(token)
    lib.slots.init_token(0, SO_PIN, "again")
    info = lib.slots.get_token_info(0)
    assert info.serial_number == serial and info.label == "again"
    assert not info.flags & TokenFlag.USER_PIN_INITIALIZED
    h = lib.sessions.open_session(0, RW)
    lib.objects.find_objects_init(h, [])
    assert lib.objects.find_objects(h, 100) == []
    lib.sessions.close_session(h)
    with pytest.raises(CKRError) as e:
        lib.slots.init_token(0, b"wrong-so-pin", "x")
    assert rv(e) == CKR.PIN_INCORRECT


def test_create_object_import_and_find_by_label(lib, token):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    priv = lib.objects.create_object(token, [
        (CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.TOKEN, True),
        (CKA.LABEL, "Device Priv TLS Key"), (CKA.EC_PARAMS, P256), (CKA.VALUE, scalar), (CKA.SIGN, True)])
    pub = lib.objects.create_object(token, [
        (CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.TOKEN, True),
        (CKA.LABEL, "Device Pub TLS Key"), (CKA.EC_PARAMS, P256), (CKA.EC_POINT, point), (CKA.VERIFY, True)])
    lib.objects.find_objects_init(token, [(CKA.LABEL, "Device Priv TLS Key")])
    assert lib.objects.find_objects(token, 5) == [priv]
    lib.objects.find_objects_final(token)
    assert lib.objects.get_attribute_value(token, priv, [CKA.LOCAL, CKA.ALWAYS_SENSITIVE]) == [False, False]
    # EC_POINT given raw comes back as the spec's DER OCTET STRING.
    assert lib.objects.get_attribute_value(token, pub, [CKA.EC_POINT])[0] == b"\x04\x41" + point
    with pytest.raises(CKRError) as e:
        lib.objects.create_object(token, [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC)])
    assert rv(e) == CKR.TEMPLATE_INCOMPLETE


def test_quota_exceeded_is_device_memory_and_nothing_half_written(tmp_path, monkeypatch):
    from support import make_home

    env = make_home(tmp_path / "small", extra="quota_objects = 3\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    library = Application()
    library.initialize(None)
    try:
        library.slots.init_token(0, SO_PIN, "small")
        h = library.sessions.open_session(0, RW)
        library.sessions.login(h, CKU.SO, SO_PIN)
        library.sessions.init_pin(h, USER_PIN)
        library.sessions.logout(h)
        library.sessions.login(h, CKU.USER, USER_PIN)
        ec_pair(library, h)                                 # 2 of 3 objects
        with pytest.raises(CKRError) as e:
            ec_pair(library, h)                             # public fits, private does not
        assert rv(e) == CKR.DEVICE_MEMORY
        library.objects.find_objects_init(h, [(CKA.TOKEN, True)])
        assert len(library.objects.find_objects(h, 10)) == 2         # the lone public half was undone
        library.objects.find_objects_final(h)
        session_key = ec_pair(library, h, token=False)       # session objects are not on the store
        assert len(session_key) == 2
    finally:
        library.finalize()


def test_check_values_of_secret_keys_and_certificates(lib, token):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    value = bytes(range(32))
    enc = Cipher(algorithms.AES(value), modes.ECB()).encryptor()
    expected = (enc.update(bytes(16)) + enc.finalize())[:3]
    aes = lib.objects.create_object(token, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                    (CKA.VALUE, value)])
    assert lib.objects.get_attribute_value(token, aes, [CKA.CHECK_VALUE]) == [expected]
    with pytest.raises(CKRError) as e:
        lib.objects.create_object(token, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                  (CKA.VALUE, value), (CKA.CHECK_VALUE, b"\x00\x00\x00")])
    assert rv(e) == CKR.ATTRIBUTE_VALUE_INVALID
    der = b"\x30\x03\x02\x01\x00"          # the check value does not parse the certificate
    digest = hashes.Hash(hashes.SHA1())
    digest.update(der)
    cert = lib.objects.create_object(token, [(CKA.CLASS, CKO.CERTIFICATE), (CKA.CERTIFICATE_TYPE, 0),
                                     (CKA.SUBJECT, b"\x30\x00"), (CKA.VALUE, der)])
    assert lib.objects.get_attribute_value(token, cert, [CKA.CHECK_VALUE]) == [digest.finalize()[:3]]
    generated = lib.keys.generate_key(token, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 16)])
    assert len(lib.objects.get_attribute_value(token, generated, [CKA.CHECK_VALUE])[0]) == 3


def test_hkdf_data_derives_a_data_object(lib, token):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from strongroom.pkcs11.params import HkdfParams

    secret = bytes(range(32))
    base = lib.objects.create_object(token, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                                     (CKA.VALUE, secret), (CKA.DERIVE, True)])
    params = HkdfParams(extract=True, expand=True, prf_hash_mechanism=CKM.SHA256, salt_type=1,
                        salt=b"", salt_key=0, info=b"ctx")
    mech = Mechanism(CKM.HKDF_DATA, params)
    data = lib.keys.derive_key(token, mech, base, [(CKA.CLASS, CKO.DATA), (CKA.VALUE_LEN, 42)])
    expected = HKDF(hashes.SHA256(), 42, salt=None, info=b"ctx").derive(secret)
    assert lib.objects.get_attribute_value(token, data, [CKA.CLASS, CKA.VALUE]) == [CKO.DATA, expected]
    with pytest.raises(CKRError) as e:
        lib.keys.derive_key(token, mech, base, [(CKA.CLASS, CKO.DATA)])
    assert rv(e) == CKR.TEMPLATE_INCOMPLETE


def test_final_with_too_small_buffer_keeps_the_operation(lib, token):
    key = lib.keys.generate_key(token, Mechanism(CKM.AES_KEY_GEN),
                           [(CKA.VALUE_LEN, 16), (CKA.ENCRYPT, True), (CKA.DECRYPT, True)])
    iv = bytes(16)
    lib.crypto.encrypt_init(token, Mechanism(CKM.AES_CBC_PAD, iv), key)
    head = lib.crypto.encrypt_update(token, b"x" * 20, 64)           # one block out, 4 bytes held
    assert len(head) == 16
    assert lib.crypto.encrypt_final(token, None) == 16
    assert lib.crypto.encrypt_final(token, 15) == 16
    tail = lib.crypto.encrypt_final(token, 16)
    lib.crypto.decrypt_init(token, Mechanism(CKM.AES_CBC_PAD, iv), key)
    assert lib.crypto.decrypt(token, head + tail, 64) == b"x" * 20
    lib.crypto.digest_init(token, Mechanism(CKM.SHA256))
    lib.crypto.digest_update(token, b"abc")
    assert lib.crypto.digest_final(token, 31) == 32
    assert lib.crypto.digest_final(token, 32).hex().startswith("ba7816bf")


def _derived_roots(lib, store=None) -> list[bytes]:
    """Root keys whose derived sealing/index keys the store holds (white box: the
    property is about memory, which no API shows). A list: the master key is a bytearray."""
    return [keys.root for keys in (store or lib.core.store)._keys.values()]


def test_derived_object_keys_do_not_outlive_logout(lib, token):
    lib.objects.create_object(token, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, True), (CKA.PRIVATE, True),
                              (CKA.VALUE, b"x")])
    master_key = lib.logins[lib.session(token).token_id].master_key
    assert master_key in _derived_roots(lib)
    lib.sessions.logout(token)
    assert master_key not in _derived_roots(lib)


def test_derived_object_keys_do_not_outlive_the_last_session(lib, token):
    tid = lib.session(token).token_id
    lib.objects.create_object(token, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, True), (CKA.PRIVATE, True),
                              (CKA.VALUE, b"x")])
    master_key = lib.logins[tid].master_key
    assert master_key in _derived_roots(lib)
    store = lib.core.store
    lib.sessions.close_session(token)
    assert master_key not in _derived_roots(lib, store)
    lib.finalize()
    assert not store._keys


@pytest.mark.parametrize("private", [True, False])
def test_find_by_unindexed_flags_is_exact(lib, token, private):
    """CKA_MODIFIABLE / DESTROYABLE are not in the blind index: find still answers exactly."""
    def data(label, **flags):
        return lib.objects.create_object(token, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, True),
                                         (CKA.PRIVATE, private), (CKA.LABEL, label),
                                         *[(getattr(CKA, k), v) for k, v in flags.items()]])
    frozen = data("a", MODIFIABLE=False)
    plain = data("a")
    keep = data("b", DESTROYABLE=False)
    for template, expected in (
            ([(CKA.LABEL, "a"), (CKA.MODIFIABLE, False)], [frozen]),
            ([(CKA.LABEL, "a"), (CKA.MODIFIABLE, True)], [plain]),
            ([(CKA.MODIFIABLE, False)], [frozen]),
            ([(CKA.DESTROYABLE, False), (CKA.CLASS, CKO.DATA)], [keep])):
        lib.objects.find_objects_init(token, template)
        assert sorted(lib.objects.find_objects(token, 10)) == expected
        lib.objects.find_objects_final(token)


def test_usage_defaults_follow_what_the_key_type_can_do(lib, token):
    """Unspecified usage flags default to CK_TRUE (token choice, footnote 9) only where a
    mechanism exists for the key type: an EC key is not made able to decrypt or recover."""
    pub, priv = lib.keys.generate_key_pair(
        token, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256)], [])
    usage = [CKA.SIGN, CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN_RECOVER, CKA.DECAPSULATE]
    assert lib.objects.get_attribute_value(token, priv, usage) == [True, False, False, False, False]
    usage = [CKA.VERIFY, CKA.ENCRYPT, CKA.WRAP, CKA.VERIFY_RECOVER, CKA.ENCAPSULATE]
    assert lib.objects.get_attribute_value(token, pub, usage) == [True, False, False, False, False]
    # still the caller's to set
    pub, priv = lib.keys.generate_key_pair(
        token, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256)], [(CKA.SIGN_RECOVER, True)])
    assert lib.objects.get_attribute_value(token, priv, [CKA.SIGN_RECOVER]) == [True]
    pub, priv = lib.keys.generate_key_pair(
        token, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN), [(CKA.MODULUS_BITS, 2048)], [])
    assert lib.objects.get_attribute_value(token, priv, [CKA.SIGN, CKA.DECRYPT, CKA.SIGN_RECOVER, CKA.DECAPSULATE]) \
        == [True, True, True, False]
