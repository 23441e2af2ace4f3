"""The key rules the core calls, dispatched to each key type's handler (keytypes.py).

``normalize_key_attrs`` is what the core calls for C_CreateObject / C_UnwrapKey of a key,
after the template validator: the key type's handler checks the *key material* (is the
point on the curve, are the RSA components consistent) and returns the attributes to add
or replace. ``key_size`` feeds the core's min/max check at C_*Init; ``wrap_image`` /
``attrs_from_image`` are C_WrapKey's plaintext and its way back. The per-type code lives
in the families (ec.py, rsa.py, eddsa.py, mldsa.py / mlkem.py, aes.py, chacha.py,
hmac.py, kdf.py); this module also holds the few helpers they share.

Errors follow C_CreateObject's list (PKCS#11 v3.0 Base §5.7): bad material is
CKR_ATTRIBUTE_VALUE_INVALID, a missing component is CKR_TEMPLATE_INCOMPLETE, a
contradiction is CKR_TEMPLATE_INCONSISTENT, an unknown curve CKR_CURVE_NOT_SUPPORTED.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pkcs11.constants import CKA, CKO, CKR
from ..pkcs11.errors import CKRError
from . import keytypes, pkcs8

RSA_MIN_BITS = 1024        # import, verify, and generation (the 2048 default floor is config: rsa_min_generate_bits)
RSA_MAX_BITS = 8192
AES_KEY_LENGTHS = (16, 24, 32)

Attrs = Mapping[int, Any]
AttrDict = dict[int, Any]
_CLASS, _VALUE, _PRIVATE_KEY, _SECRET_KEY = int(CKA.CLASS), int(CKA.VALUE), int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)


def int_bytes(n: int, length: int | None = None) -> bytes:
    """Big-endian, minimal (or fixed ``length``) — PKCS#11's "Big integer" form."""
    return n.to_bytes(length or max(1, (n.bit_length() + 7) // 8), "big")


def public_key_info(key: Any) -> bytes:
    """CKA_PUBLIC_KEY_INFO: DER SubjectPublicKeyInfo (PKCS#11 v3.0 Base §4.8, §4.9)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def with_info(attrs: Attrs, key: Any, out: AttrDict) -> AttrDict:
    """Add CKA_PUBLIC_KEY_INFO of the pyca public ``key`` to ``out``; a non-empty given
    value must match the key material."""
    info = public_key_info(key)
    given = attrs.get(CKA.PUBLIC_KEY_INFO)
    if given and given != info:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_PUBLIC_KEY_INFO does not match the key")
    out[CKA.PUBLIC_KEY_INFO] = info
    return out


def load_secret(attrs: Attrs) -> bytes:
    """A secret key's value (CKA_VALUE)."""
    value = attrs.get(_VALUE)
    if not isinstance(value, bytes):
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "secret key has no value")
    return value


def normalize_key_attrs(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
    """Validate imported key material; return attributes to add or replace.

    Any (class, key type) no handler accepts is refused: no mechanism here could use it.
    """
    handler = keytypes.find(key_type)
    if handler is None:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")
    return handler.normalize(cls, key_type, attrs)


def key_size(attrs: Attrs) -> int | None:
    """The key's size in CK_MECHANISM_INFO units (bits for RSA/EC, bytes for secrets and
    the public key bytes of ML-DSA / ML-KEM); None when unknown."""
    handler = keytypes.find(attrs.get(CKA.KEY_TYPE))
    try:
        if handler is not None:
            return handler.size(attrs)
        if attrs.get(_CLASS) == _SECRET_KEY:
            return keytypes.secret_size(attrs)
    except (KeyError, TypeError, CKRError):
        return None
    return None


def load_private(attrs: Attrs) -> Any:
    """pyca private key from a stored private-key object (cached per key by the core)."""
    return keytypes.of_attrs(attrs, CKR.KEY_TYPE_INCONSISTENT, "not a private key strongroom can use"
                             ).load_private(attrs)


def load_public(attrs: Attrs) -> Any:
    """pyca public key from a public-key object (or the public half of a private key)."""
    if attrs.get(_CLASS) == _PRIVATE_KEY:
        return load_private(attrs).public_key()
    return keytypes.of_attrs(attrs, CKR.KEY_TYPE_INCONSISTENT, "not a public key strongroom can use"
                             ).load_public(attrs)


def wrap_image(attrs: Attrs) -> bytes:
    """C_WrapKey's plaintext: CKA_VALUE of a secret key, PKCS#8 DER of a private key.
    Public keys are never wrapped (nothing secret)."""
    cls = attrs.get(_CLASS)
    if cls == _SECRET_KEY:
        value = attrs.get(_VALUE)
        if not isinstance(value, bytes) or not value:
            raise CKRError(CKR.KEY_NOT_WRAPPABLE, "secret key without a value")
        return value
    if cls != _PRIVATE_KEY:
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "only secret and private keys can be wrapped")
    key = load_private(attrs)
    try:
        return pkcs8.image(key)
    except (ValueError, TypeError):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "this key type has no PKCS#8 form here") from None


def _invalid(why: str) -> CKRError:
    return CKRError(CKR.WRAPPED_KEY_INVALID, why)


def attrs_from_image(cls: int, key_type: int, image: bytes) -> AttrDict:
    """C_UnwrapKey: the key-material attributes of ``image`` (then normalize_key_attrs);
    WRAPPED_KEY_INVALID if it is not a key of ``cls`` / ``key_type``."""
    if cls == _SECRET_KEY:
        if not image:
            raise _invalid("empty key value")
        return {CKA.VALUE: bytes(image)}
    if cls != _PRIVATE_KEY:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "only secret and private keys can be unwrapped")
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        key = load_der_private_key(bytes(image), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):   # malformed, encrypted, unknown algorithm
        raise _invalid("not a PKCS#8 PrivateKeyInfo of a supported algorithm") from None
    handler = keytypes.find(key_type)
    if handler is None or handler.private_attrs is None or not isinstance(key, handler.pyca_private):
        raise _invalid("key algorithm does not match CKA_KEY_TYPE")
    return handler.private_attrs(key)
