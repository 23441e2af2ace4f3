"""Digests through the Operation protocol, single- and multi-part."""
from __future__ import annotations

import hashlib

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.digest import digestible_value, update_with_key
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKM, CKO, CKR
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


def test_digest_key():
    op = _op(CKM.SHA256)
    op.update(b"pre")
    update_with_key(op, digestible_value({CKA.CLASS: CKO.SECRET_KEY, CKA.VALUE: b"k" * 16}))
    assert op.final() == hashlib.sha256(b"pre" + b"k" * 16).digest()


def test_digest_key_refuses_private_keys():
    with pytest.raises(CKRError) as e:
        digestible_value({CKA.CLASS: CKO.PRIVATE_KEY, CKA.VALUE: b"\x01"})
    assert e.value.rv == CKR.KEY_INDIGESTIBLE


def test_digest_mechanism_cannot_sign():
    with pytest.raises(CKRError) as e:
        registry.get(CKM.SHA256).operation(OpKind.SIGN, None, None)
    assert e.value.rv == CKR.MECHANISM_INVALID
