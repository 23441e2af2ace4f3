"""CKA_CHECK_VALUE: the key / certificate checksum (PKCS#11 v3.0).

* AES keys (Current Mechanisms §2.10.2): the first 3 bytes of the ECB encryption of one
  all-zero block under the key.
* Generic secret and HMAC keys (§2.8.2 and the per-hash key tables): the first 3 bytes
  of SHA-1 of CKA_VALUE.
* X.509 certificates (Base §4.6.3): the first 3 bytes of SHA-1 of CKA_VALUE (the DER).

Other key types define no check value: nothing is added for them.

The core calls :func:`attrs_for` on every new secret key or certificate (C_CreateObject,
C_GenerateKey, C_DeriveKey, C_UnwrapKey, C_CopyObject keeps the stored one) after the key
material is final. A caller-given value is checked: an empty value is kept as given (the
caller asked for no checksum); a value that does not match is CKR_ATTRIBUTE_VALUE_INVALID.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..pkcs11.constants import CKA, CKC, CKK, CKO, CKR
from ..pkcs11.errors import CKRError

_SHA1_KEY_TYPES = frozenset({
    CKK.GENERIC_SECRET, CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC, CKK.SHA384_HMAC,
    CKK.SHA512_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC, CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC,
    CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC,
})


def aes_check_value(value: bytes) -> bytes:
    """First 3 bytes of AES-ECB(key, 0^128)."""
    enc = Cipher(algorithms.AES(value), modes.ECB()).encryptor()
    return (enc.update(bytes(16)) + enc.finalize())[:3]


def sha1_check_value(value: bytes) -> bytes:
    """First 3 bytes of SHA-1(value): generic secrets, HMAC keys, X.509 certificates."""
    h = hashes.Hash(hashes.SHA1())
    h.update(value)
    return h.finalize()[:3]


def compute(attrs: Mapping[int, Any]) -> bytes | None:
    """The check value of an object, or None when its type defines none."""
    cls, value = attrs.get(CKA.CLASS), attrs.get(CKA.VALUE)
    if not isinstance(value, bytes) or not value:
        return None
    if cls == CKO.SECRET_KEY:
        key_type = attrs.get(CKA.KEY_TYPE)
        if key_type == CKK.AES and len(value) in (16, 24, 32):
            return aes_check_value(value)
        if key_type in _SHA1_KEY_TYPES:
            return sha1_check_value(value)
        return None
    if cls == CKO.CERTIFICATE and attrs.get(CKA.CERTIFICATE_TYPE) == CKC.X_509:
        return sha1_check_value(value)
    return None


def attrs_for(attrs: Mapping[int, Any]) -> dict[int, bytes]:
    """``{CKA_CHECK_VALUE: v}`` to merge into a new object, or ``{}``.

    Raises CKR_ATTRIBUTE_VALUE_INVALID when the caller gave a non-empty value that does
    not match the object.
    """
    expected = compute(attrs)
    given = attrs.get(CKA.CHECK_VALUE)
    if expected is None:
        return {}
    if given is not None:
        if given == b"":
            return {}
        if given != expected:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_CHECK_VALUE does not match")
        return {}
    return {CKA.CHECK_VALUE: expected}
