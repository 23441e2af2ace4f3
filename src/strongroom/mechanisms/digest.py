"""Message digests: CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
CKM_SHA512_224, CKM_SHA512_256 (PKCS#11 v3.0 Current Mechanisms §2.16-2.22) and
CKM_SHA3_224/256/384/512 (§2.23-2.26).

Digest operations take no key (``key`` is None). C_DigestKey: the core checks the key
(a secret key with a CKA_VALUE, else CKR_KEY_INDIGESTIBLE — use :func:`digestible_value`)
and then calls :func:`update_with_key`, which is ``op.update(value)``: the spec defines
C_DigestKey as digesting the key's value as if it were data.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..pkcs11.constants import CKA, CKM, CKO, CKR, MechanismFlag
from ..pkcs11.errors import CKRError
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, register, unsupported_kind

#: CKM -> pyca hash class; also used by the sign families (ECDSA_SHA*, SHA*_RSA_PKCS).
HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    CKM.SHA_1: hashes.SHA1,
    CKM.SHA224: hashes.SHA224,
    CKM.SHA256: hashes.SHA256,
    CKM.SHA384: hashes.SHA384,
    CKM.SHA512: hashes.SHA512,
    CKM.SHA512_224: hashes.SHA512_224,
    CKM.SHA512_256: hashes.SHA512_256,
    CKM.SHA3_224: hashes.SHA3_224,
    CKM.SHA3_256: hashes.SHA3_256,
    CKM.SHA3_384: hashes.SHA3_384,
    CKM.SHA3_512: hashes.SHA3_512,
}


class DigestOperation(Operation):
    """Multi-part hash; ``final`` returns the digest."""

    multipart = True

    def __init__(self, algorithm: hashes.HashAlgorithm) -> None:
        self._hash = hashes.Hash(algorithm)

    def update(self, data: bytes) -> bytes:
        self._hash.update(data)
        return b""

    def final(self) -> bytes:
        return self._hash.finalize()

    def oneshot(self, data) -> bytes:
        """C_Digest: ``data`` may be a read-only view of the caller's buffer (no copy)."""
        self._hash.update(data)
        return self._hash.finalize()


def update_with_key(op: Operation, key_value: bytes) -> None:
    """C_DigestKey: digest a secret key's value as if it were data."""
    op.update(key_value)


def digestible_value(attrs: Mapping[int, Any]) -> bytes:
    """The bytes C_DigestKey digests, or CKR_KEY_INDIGESTIBLE for non-secret keys."""
    value = attrs.get(CKA.VALUE)
    if attrs.get(CKA.CLASS) != CKO.SECRET_KEY or not isinstance(value, bytes):
        raise CKRError(CKR.KEY_INDIGESTIBLE, "only secret keys can be digested")
    return value


def _factory(mech: int):
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        if kind is not OpKind.DIGEST:
            raise unsupported_kind(mech, kind)
        return DigestOperation(HASHES[mech]())

    return operation


for _mech in HASHES:
    register(MechanismEntry(
        mechanism=_mech, flags=MechanismFlag.DIGEST, min_key_size=0, max_key_size=0,
        key_types=frozenset(), operation=_factory(_mech),
    ))
