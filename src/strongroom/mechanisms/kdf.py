"""Key derivation and password-based key generation:

* CKM_HKDF_DERIVE / CKM_HKDF_DATA with CK_HKDF_PARAMS (PKCS#11 v3.0 Current Mechanisms
  §2.42; RFC 5869) through pyca's ``HKDF`` (``HKDF.extract`` for extract-only,
  ``HKDFExpand`` for expand-only). ``prfHashMechanism`` is any digest CKM strongroom
  registers (SHA-1, SHA-2, SHA-3). Salt: CKF_HKDF_SALT_NULL (hash-length zeros),
  _DATA (``salt``), _KEY: the core resolves ``salt_key`` and passes the parameter with
  ``salt`` set to that key's CKA_VALUE (``dataclasses.replace(param, salt=value)``).
  bExtract and bExpand both false is CKR_MECHANISM_PARAM_INVALID. Expand-only uses the
  base key as the PRK. Base keys: CKK_HKDF and CKK_GENERIC_SECRET (and the HMAC key types).
  CKM_HKDF_DATA makes a CKO_DATA object: the mechanism contributes CKA_VALUE only, of
  CKA_VALUE_LEN bytes from the template the core passes.
* CKM_HKDF_KEY_GEN: a CKK_HKDF key of CKA_VALUE_LEN bytes.
* CKM_PKCS5_PBKD2 (§2.37.x; a *key generation* mechanism: C_GenerateKey with
  CK_PKCS5_PBKD2_PARAMS2): PBKDF2-HMAC through pyca's ``PBKDF2HMAC``; PRFs HMAC-SHA1,
  -SHA224, -SHA256, -SHA384, -SHA512, -SHA512/224, -SHA512/256 (GOST R 34.11: not in pyca
  -> MECHANISM_PARAM_INVALID). The key type comes from the template.
* CKM_SHA1/SHA224/SHA256/SHA384/SHA512/SHA3_*_KEY_DERIVATION (§2.21 "SHA-1 key
  derivation" and siblings): the digest of the base key's value, truncated to
  CKA_VALUE_LEN (at most the digest size, else TEMPLATE_INCONSISTENT).

The derived key's length: CKA_VALUE_LEN when given; else CKK_CHACHA20 -> 32, CKK_AES ->
TEMPLATE_INCOMPLETE (the spec requires it), otherwise the mechanism's natural length
(hash size) where it has one.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ..pkcs11 import params as P
from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR, HkdfSaltFlag
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import HkdfParams, Pbkdf2Params
from .checkvalue import attrs_for
from .digest import HASHES
from .hmac import HMAC_KEY_TYPES
from .keys import AES_KEY_LENGTHS, load_secret
from .keytypes import AttrDict, register_key_type, secret_handler
from .registry import KeyMaterial, MechanismEntry, register

MAX_KEY_BYTES = 4096
_BASE_TYPES = frozenset({CKK.HKDF, CKK.GENERIC_SECRET}) | HMAC_KEY_TYPES
register_key_type(secret_handler(frozenset({CKK.HKDF}), None))   # any non-empty value
_DIGEST_BASE_TYPES = _BASE_TYPES | {CKK.AES, CKK.CHACHA20}

PBKDF2_PRF: dict[int, type[hashes.HashAlgorithm]] = {
    P.CKP_PKCS5_PBKD2_HMAC_SHA1: hashes.SHA1,
    P.CKP_PKCS5_PBKD2_HMAC_SHA224: hashes.SHA224,
    P.CKP_PKCS5_PBKD2_HMAC_SHA256: hashes.SHA256,
    P.CKP_PKCS5_PBKD2_HMAC_SHA384: hashes.SHA384,
    P.CKP_PKCS5_PBKD2_HMAC_SHA512: hashes.SHA512,
    P.CKP_PKCS5_PBKD2_HMAC_SHA512_224: hashes.SHA512_224,
    P.CKP_PKCS5_PBKD2_HMAC_SHA512_256: hashes.SHA512_256,
}

KEY_DERIVATION: dict[int, type[hashes.HashAlgorithm]] = {
    CKM.SHA1_KEY_DERIVATION: hashes.SHA1,
    CKM.SHA224_KEY_DERIVATION: hashes.SHA224,
    CKM.SHA256_KEY_DERIVATION: hashes.SHA256,
    CKM.SHA384_KEY_DERIVATION: hashes.SHA384,
    CKM.SHA512_KEY_DERIVATION: hashes.SHA512,
    CKM.SHA3_224_KEY_DERIVATION: hashes.SHA3_224,
    CKM.SHA3_256_KEY_DERIVATION: hashes.SHA3_256,
    CKM.SHA3_384_KEY_DERIVATION: hashes.SHA3_384,
    CKM.SHA3_512_KEY_DERIVATION: hashes.SHA3_512,
}


def out_length(attrs: Mapping[int, Any], natural: int | None) -> int:
    """Bytes to produce for the new object (see the module docstring)."""
    length = attrs.get(CKA.VALUE_LEN)
    key_type = attrs.get(CKA.KEY_TYPE)
    if length is None:
        if key_type == CKK.CHACHA20:
            length = 32
        elif key_type == CKK.AES or natural is None:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN missing")
        else:
            length = natural
    if not 0 < length <= MAX_KEY_BYTES:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN out of range")
    if key_type == CKK.AES and length not in AES_KEY_LENGTHS:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "AES keys are 16, 24 or 32 bytes")
    if key_type == CKK.CHACHA20 and length != 32:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "ChaCha20 keys are 32 bytes")
    return length


def contribution(attrs: Mapping[int, Any], value: bytes) -> AttrDict:
    """What a derive / generate contributes: CKA_VALUE, and for keys CKA_VALUE_LEN and
    the check value."""
    if attrs.get(CKA.CLASS) == CKO.DATA:
        return {CKA.VALUE: value}
    out: AttrDict = {CKA.VALUE: value, CKA.VALUE_LEN: len(value)}
    out.update(attrs_for({**attrs, **out}))
    return out


# --- HKDF -----------------------------------------------------------------------------------
def hkdf(p: object, ikm: bytes, length: int | None) -> bytes:
    """RFC 5869 per CK_HKDF_PARAMS; ``length`` None means the natural length (hash size)."""
    if not isinstance(p, HkdfParams):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_HKDF_PARAMS required")
    alg_cls = HASHES.get(p.prf_hash_mechanism)
    if alg_cls is None:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "unsupported prfHashMechanism")
    alg = alg_cls()
    if not (p.extract or p.expand):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "bExtract and bExpand both false")
    if p.salt_type == HkdfSaltFlag.NULL:
        salt = None
    elif p.salt_type in (HkdfSaltFlag.DATA, HkdfSaltFlag.KEY):
        salt = p.salt
        if not salt:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "salt missing")
    else:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "ulSaltType must be NULL, DATA or KEY")
    n = alg.digest_size if length is None else length
    if p.expand and n > 255 * alg.digest_size:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "HKDF output longer than 255 hash blocks")
    if p.extract and p.expand:
        return HKDF(alg, n, salt, p.info).derive(ikm)
    if p.extract:
        prk = HKDF.extract(alg, salt, ikm)
        if n != len(prk):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "extract-only output is one hash long")
        return prk
    return HKDFExpand(alg, n, p.info).derive(ikm)


def _natural(p: HkdfParams) -> int | None:
    alg = HASHES.get(p.prf_hash_mechanism)
    return alg().digest_size if alg else None   # an instance: on the class it is a property


def hkdf_derive(param: object, base: KeyMaterial, attrs: AttrDict) -> AttrDict:
    """CKM_HKDF_DERIVE / CKM_HKDF_DATA."""
    natural = _natural(param) if isinstance(param, HkdfParams) and not param.expand else None
    if attrs.get(CKA.CLASS) == CKO.DATA:
        length = attrs.get(CKA.VALUE_LEN) or natural
        if not length:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN missing")
    else:
        length = out_length(attrs, natural)
    return contribution(attrs, hkdf(param, base.parsed(load_secret), length))


def hkdf_keygen(param: object, template: AttrDict) -> AttrDict:
    """CKM_HKDF_KEY_GEN: a random CKK_HKDF key."""
    length = out_length(template, None)
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.HKDF,
            **contribution({**template, CKA.KEY_TYPE: CKK.HKDF}, os.urandom(length))}


# --- PBKDF2 ---------------------------------------------------------------------------------
def pbkdf2(p: object, length: int) -> bytes:
    if not isinstance(p, Pbkdf2Params):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_PKCS5_PBKD2_PARAMS2 required")
    if p.salt_source != P.CKZ_SALT_SPECIFIED:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "saltSource must be CKZ_SALT_SPECIFIED")
    alg = PBKDF2_PRF.get(p.prf)
    if alg is None or p.prf_data:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "unsupported PRF")
    if p.iterations < 1:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "iterations must be >= 1")
    return PBKDF2HMAC(alg(), length, p.salt, p.iterations).derive(p.password)


def pbkdf2_generate(param: object, template: AttrDict) -> AttrDict:
    """CKM_PKCS5_PBKD2: C_GenerateKey; key type and CKA_VALUE_LEN from the template."""
    length = out_length(template, None)
    return contribution(template, pbkdf2(param, length))


# --- SHA*_KEY_DERIVATION --------------------------------------------------------------------
def _digest_derive(algorithm: type[hashes.HashAlgorithm]) -> Callable[[object, KeyMaterial, AttrDict], AttrDict]:
    def derive(param: object, base: KeyMaterial, attrs: AttrDict) -> AttrDict:
        alg = algorithm()
        length = out_length(attrs, alg.digest_size)
        if length > alg.digest_size:
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN exceeds the digest size")
        h = hashes.Hash(alg)
        h.update(base.parsed(load_secret))
        return contribution(attrs, h.finalize()[:length])

    return derive


#: CK_MECHANISM_INFO key sizes (bytes) of every mechanism here
_MIN, _MAX = 1, MAX_KEY_BYTES
for _hkdf in (CKM.HKDF_DERIVE, CKM.HKDF_DATA):
    register(MechanismEntry(mechanism=_hkdf, flags=F.DERIVE, key_types=_BASE_TYPES,
                            derive=hkdf_derive, min_key_size=_MIN, max_key_size=_MAX))
register(MechanismEntry(mechanism=CKM.HKDF_KEY_GEN, flags=F.GENERATE, key_types=frozenset(),
                        generate=hkdf_keygen, gen_key_type=CKK.HKDF, min_key_size=_MIN, max_key_size=_MAX))
register(MechanismEntry(mechanism=CKM.PKCS5_PBKD2, flags=F.GENERATE, key_types=frozenset(),
                        generate=pbkdf2_generate, min_key_size=_MIN, max_key_size=_MAX))
for _mech, _alg in KEY_DERIVATION.items():
    register(MechanismEntry(mechanism=_mech, flags=F.DERIVE, key_types=_DIGEST_BASE_TYPES,
                            derive=_digest_derive(_alg), min_key_size=_MIN, max_key_size=_MAX))
