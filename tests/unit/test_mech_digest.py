"""Digests through the Operation protocol, single- and multi-part."""
from __future__ import annotations

import hashlib

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError

CASES = [(CKM.SHA_1, "sha1"), (CKM.SHA224, "sha224"), (CKM.SHA256, "sha256"),
         (CKM.SHA384, "sha384"), (CKM.SHA512, "sha512"),
         (CKM.SHA512_224, "sha512_224"), (CKM.SHA512_256, "sha512_256")]


def _op(mech):
    entry = registry.get(mech)
    registry.check_param(entry, None)
    return entry.operation(OpKind.DIGEST, None, None)


def test_sha256_known_answer():
    op = _op(CKM.SHA256)
    op.update(b"abc")
    assert op.final().hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("mech,name", CASES)
@pytest.mark.parametrize("chunks", [[b""], [b"", b"a", b"", b"bcdefg", b"h" * 1001], [b"x" * 127, b"y"]])
def test_multipart_equals_hashlib(mech, name, chunks):
    op = _op(mech)
    for c in chunks:
        assert op.update(c) == b""
    assert op.final() == hashlib.new(name, b"".join(chunks)).digest()


@pytest.fixture
def app(home):
    """The token core in-process with a logged-in R/W session on a new token (C_DigestKey
    is checked by the core, crypto_calls.digest_key: that is the live code to test)."""
    from strongroom.pkcs11.constants import CKU, SessionFlag
    from strongroom.token.application import Application

    lib = Application()
    lib.initialize(None)
    lib.slots.init_token(0, b"so-pin-1234", "digest")
    h = lib.sessions.open_session(0, SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION)
    lib.sessions.login(h, CKU.SO, b"so-pin-1234")
    lib.sessions.init_pin(h, b"user-pin-1234")
    lib.sessions.logout(h)
    lib.sessions.login(h, CKU.USER, b"user-pin-1234")
    yield lib, h
    lib.finalize()


def test_digest_key(app):
    from strongroom.token.types import Mechanism

    lib, h = app
    key = lib.objects.create_object(h, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                                        (CKA.VALUE, b"k" * 16)])
    lib.crypto.digest_init(h, Mechanism(CKM.SHA256))
    lib.crypto.digest_update(h, b"pre")
    lib.crypto.digest_key(h, key)
    assert lib.crypto.digest_final(h, 64) == hashlib.sha256(b"pre" + b"k" * 16).digest()


def test_digest_key_refuses_a_key_without_a_secret_value(app):
    from strongroom.token.types import Mechanism

    lib, h = app
    data = lib.objects.create_object(h, [(CKA.CLASS, CKO.DATA), (CKA.VALUE, b"\x01")])
    lib.crypto.digest_init(h, Mechanism(CKM.SHA256))
    with pytest.raises(CKRError) as e:
        lib.crypto.digest_key(h, data)
    assert e.value.rv == CKR.KEY_INDIGESTIBLE
    with pytest.raises(CKRError) as e:             # the error ended the digest (v3.0 §5.2)
        lib.crypto.digest_update(h, b"x")
    assert e.value.rv == CKR.OPERATION_NOT_INITIALIZED


def test_digest_mechanism_cannot_sign():
    with pytest.raises(CKRError) as e:
        registry.get(CKM.SHA256).operation(OpKind.SIGN, None, None)
    assert e.value.rv == CKR.MECHANISM_INVALID
