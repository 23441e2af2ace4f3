"""CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE (PKCS#11 v3.0 Current Mechanisms §2.3.10,
"Elliptic curve Diffie-Hellman key derivation"; Montgomery keys in "EC Montgomery").

``derive(param, base_key, attrs)`` gets the private base key (CKK_EC on a ecparams curve,
or CKK_EC_MONTGOMERY X25519/X448) and a CK_ECDH1_DERIVE_PARAMS:

* ``public_data``: the peer's public key; for EC a raw X9.62 point (compressed or not) or
  its DER OCTET STRING, for Montgomery the raw 32/56-byte key or its DER OCTET STRING
  (field notes: accept every form). A bad point is CKR_MECHANISM_PARAM_INVALID.
* ``kdf``: CKD_NULL (the shared secret Z itself; ``shared_data`` must be empty) or an
  ANSI X9.63 KDF CKD_SHA1/224/256/384/512_KDF, CKD_SHA3_*_KDF with ``shared_data`` as
  SharedInfo (pyca ``X963KDF``). Other KDFs are CKR_MECHANISM_PARAM_INVALID.

Key length: CKA_VALUE_LEN of the new key when given; else the key type's fixed length
(AES: Z's length when that is 16/24/32, else CKR_TEMPLATE_INCOMPLETE) or, for generic
secrets, the whole output (|Z|, or the hash length with a KDF). With CKD_NULL a shorter
key keeps the *trailing* bytes of Z (what SoftHSM2 and Kryoptic do); a longer one is
CKR_TEMPLATE_INCONSISTENT.

The cofactor variant: every supported curve (P-256/384/521, secp256k1, brainpool) has
cofactor 1, so it computes the same Z; X25519/X448 multiply by the cofactor by design
(RFC 7748 clamping).
"""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from ..pkcs11.constants import CKA, CKD, CKK, CKM, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import EcdhParams
from . import ecparams, pkhash
from .ec import EC_FLAGS
from .keys import load_private
from .keytypes import AttrDict
from .registry import KeyMaterial, MechanismEntry, register

_AES_LENGTHS = (16, 24, 32)


def _bad(why: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, why)


def shared_secret(private: Any, public_data: bytes) -> bytes:
    """Z for ``private`` (pyca EC or X25519/X448 key) and the peer's public data."""
    if isinstance(private, ec.EllipticCurvePrivateKey):
        curve = ecparams.curve_of_key(private)
        try:
            peer = ecparams.decode_point(curve, public_data)
        except CKRError:
            raise _bad("public data is not a point on the key's curve") from None
        return private.exchange(ec.ECDH(), peer)
    raw = ecparams.raw_curve_of_key(private)
    if raw.key_type != CKK.EC_MONTGOMERY:
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "ECDH needs an EC or Montgomery key")
    try:
        raw_peer = ecparams.decode_raw_public(raw, public_data)
    except CKRError:
        raise _bad(f"public data is not a {raw.name} public key") from None
    try:
        z: bytes = private.exchange(raw_peer)   # X25519 / X448 (``private`` is pyca's, untyped here)
        return z
    except ValueError:                      # all-zero output: a small-order peer point
        raise _bad("public data is a small-order point") from None


def _length(attrs: AttrDict, natural: int) -> int:
    length = attrs.get(CKA.VALUE_LEN)
    if length is not None:
        if not isinstance(length, int) or length <= 0:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be positive")
        return length
    if attrs.get(CKA.KEY_TYPE) == CKK.AES:
        if natural in _AES_LENGTHS:
            return natural
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN needed for this AES key")
    return natural


def derive(param: object, key: KeyMaterial, attrs: AttrDict) -> AttrDict:
    """The registry ``derive`` callable: returns CKA_VALUE and CKA_VALUE_LEN."""
    if not isinstance(param, EcdhParams):
        raise _bad("CK_ECDH1_DERIVE_PARAMS required")
    if not param.public_data:
        raise _bad("public data missing")
    if param.kdf == CKD.NULL:
        if param.shared_data:
            raise _bad("CKD_NULL takes no shared data")
        hash_cls = None
    else:
        hash_cls = pkhash.X963.get(param.kdf)
        if hash_cls is None:
            raise _bad(f"unsupported KDF 0x{param.kdf:x}")
    z = shared_secret(key.parsed(load_private), param.public_data)
    if hash_cls is None:
        length = _length(attrs, len(z))
        if length > len(z):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN longer than the shared secret")
        value = z[len(z) - length:]
    else:
        algorithm = hash_cls()
        length = _length(attrs, algorithm.digest_size)
        value = X963KDF(algorithm, length, param.shared_data or None).derive(z)
    if attrs.get(CKA.KEY_TYPE) == CKK.AES and length not in _AES_LENGTHS:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "AES keys are 16, 24 or 32 bytes")
    return {CKA.VALUE: value, CKA.VALUE_LEN: length}


_MIN = min(ecparams.MIN_BITS, ecparams.RAW_MIN_BITS)
for _mech in (CKM.ECDH1_DERIVE, CKM.ECDH1_COFACTOR_DERIVE):
    register(MechanismEntry(
        mechanism=_mech, flags=F.DERIVE | EC_FLAGS,
        min_key_size=_MIN, max_key_size=ecparams.MAX_BITS,
        key_types=frozenset({CKK.EC, CKK.EC_MONTGOMERY}), derive=derive,
    ))
