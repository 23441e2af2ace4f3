"""Key images for C_WrapKey / C_UnwrapKey (design.md, "Issue 4 additions").

A secret key's image is its CKA_VALUE. A private key's image is a DER PKCS#8
PrivateKeyInfo made by pyca's serializer (RSA, EC, Ed25519/Ed448, X25519/X448, and ML-DSA /
ML-KEM where pyca can serialize them). ``attrs_from_image`` goes back to the attributes
the key object needs; the core then runs ``keys.normalize_key_attrs`` on them, so all
material checks stay in one place. Public keys are never wrapped (nothing secret).
"""
from __future__ import annotations

from typing import Any, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..pkcs11.constants import CKA, CKK, CKO, CKR
from ..pkcs11.errors import CKRError
from . import ecparams

Attrs = Mapping[int, Any]


def wrap_image(attrs: Attrs) -> bytes:
    """The bytes a wrapping mechanism encrypts for the key ``attrs``."""
    from . import keys

    cls = attrs.get(CKA.CLASS)
    if cls == CKO.SECRET_KEY:
        value = attrs.get(CKA.VALUE)
        if not isinstance(value, bytes) or not value:
            raise CKRError(CKR.KEY_NOT_WRAPPABLE, "secret key without a value")
        return value
    if cls != CKO.PRIVATE_KEY:
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "only secret and private keys can be wrapped")
    key = keys.load_private(attrs)
    try:
        return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    except (ValueError, TypeError):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "this key type has no PKCS#8 form here") from None


def _invalid(why: str) -> CKRError:
    return CKRError(CKR.WRAPPED_KEY_INVALID, why)


def _int_bytes(n: int, length: int | None = None) -> bytes:
    return n.to_bytes(length or max(1, (n.bit_length() + 7) // 8), "big")


def attrs_from_image(cls: int, key_type: int, image: bytes) -> dict:
    """Attributes (key material only) of the key ``image`` holds; WRAPPED_KEY_INVALID if
    it is not a key of ``cls`` / ``key_type``."""
    if cls == CKO.SECRET_KEY:
        if not image:
            raise _invalid("empty key value")
        return {CKA.VALUE: bytes(image)}
    if cls != CKO.PRIVATE_KEY:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "only secret and private keys can be unwrapped")
    try:
        key = serialization.load_der_private_key(bytes(image), password=None)
    except Exception:  # noqa: BLE001 -- ValueError / TypeError / UnsupportedAlgorithm
        raise _invalid("not a PKCS#8 PrivateKeyInfo of a supported algorithm") from None
    if key_type == CKK.RSA and isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return {
            CKA.MODULUS: _int_bytes(n.public_numbers.n),
            CKA.PUBLIC_EXPONENT: _int_bytes(n.public_numbers.e),
            CKA.PRIVATE_EXPONENT: _int_bytes(n.d),
            CKA.PRIME_1: _int_bytes(n.p), CKA.PRIME_2: _int_bytes(n.q),
            CKA.EXPONENT_1: _int_bytes(n.dmp1), CKA.EXPONENT_2: _int_bytes(n.dmq1),
            CKA.COEFFICIENT: _int_bytes(n.iqmp),
        }
    if key_type == CKK.EC and isinstance(key, ec.EllipticCurvePrivateKey):
        try:
            curve = ecparams.curve_of_key(key)
        except (KeyError, CKRError):
            raise CKRError(CKR.CURVE_NOT_SUPPORTED, "curve not supported") from None
        size = (key.curve.key_size + 7) // 8
        return {CKA.EC_PARAMS: curve.oid_der,
                CKA.VALUE: _int_bytes(key.private_numbers().private_value, size)}
    if key_type in (CKK.EC_EDWARDS, CKK.EC_MONTGOMERY):
        try:
            curve = ecparams.raw_curve_of_key(key)
        except CKRError:
            raise _invalid("not an Edwards / Montgomery key") from None
        if curve.key_type != key_type:
            raise _invalid("key algorithm does not match CKA_KEY_TYPE")
        return {CKA.EC_PARAMS: curve.oid_der, CKA.VALUE: key.private_bytes_raw()}
    raise _invalid("key algorithm does not match CKA_KEY_TYPE")
