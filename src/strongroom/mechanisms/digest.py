"""Message digests: CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
CKM_SHA512_224, CKM_SHA512_256 (PKCS#11 v3.0 Current Mechanisms §2.16-2.22) and
CKM_SHA3_224/256/384/512 (§2.23-2.26).

Digest operations take no key (``key`` is None). C_DigestKey is the core's
(token/crypto_calls.py): it checks the key (a secret key with a CKA_VALUE, else
CKR_KEY_INDIGESTIBLE) and feeds the value to ``update`` as if it were data (the spec's
definition).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..pkcs11.constants import CKM, MechanismFlag
from . import pkhash
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, register, unsupported_kind

#: CKM -> pyca hash class of every digest mechanism: the signature families' table
#: (pkhash.BY_CKM) plus the two SHA-512/t digests no signature mechanism names.
HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    **pkhash.BY_CKM, CKM.SHA512_224: hashes.SHA512_224, CKM.SHA512_256: hashes.SHA512_256,
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

    def oneshot(self, data: Any) -> bytes:
        """C_Digest: ``data`` may be a read-only view of the caller's buffer (no copy)."""
        self._hash.update(data)
        return self._hash.finalize()


def _factory(mech: int) -> Callable[[OpKind, KeyMaterial | None, object], Operation]:
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
