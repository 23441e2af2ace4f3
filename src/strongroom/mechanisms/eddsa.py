"""Edwards and Montgomery curves (PKCS#11 v3.0 Current Mechanisms, "EC Edwards" /
"EC Montgomery" mechanisms).

* CKM_EC_EDWARDS_KEY_PAIR_GEN: Ed25519 and Ed448 (CKK_EC_EDWARDS).
* CKM_EC_MONTGOMERY_KEY_PAIR_GEN: X25519 and X448 (CKK_EC_MONTGOMERY — *not* Edwards,
  unlike SoftHSM2); they derive with CKM_ECDH1_DERIVE (ecdh.py).
  Both take CKA_EC_PARAMS from the public template as the RFC 8410 OID or a
  PrintableString name ("edwards25519", "curve25519", ... see ecparams.RAW_CURVES) and
  contribute CKA_EC_POINT (DER OCTET STRING of the raw public key) to the public key and
  CKA_EC_PARAMS plus CKA_VALUE (the raw private key) to the private key.
* CKM_EDDSA: single-part sign/verify. CK_EDDSA_PARAMS is optional for Ed25519 and
  mandatory for Ed448: the mechanism's table of signature schemes (PKCS#11 v3.0 Current
  Mechanisms, section "EdDSA" (CKM_EDDSA), the same in v3.1/3.2) gives "Mechanism Param: Not
  Required" only for Ed25519; Ed25519ctx, Ed25519ph, Ed448 and Ed448ph are "Required"
  (the parameter's presence selects the scheme). Ed448 without it is
  CKR_MECHANISM_PARAM_INVALID.

What pyca/cryptography (48) can do, and so what CKM_EDDSA accepts:

==============  ===========================  =========================================
key             parameter                    result
==============  ===========================  =========================================
Ed25519         none                         Ed25519 (pure, RFC 8032 §5.1)
Ed25519         any CK_EDDSA_PARAMS          MECHANISM_PARAM_INVALID: Ed25519ctx /
                                             Ed25519ph are not in pyca
Ed448           phFlag false, no context     Ed448 (pure, empty context)
Ed448           none                         MECHANISM_PARAM_INVALID: the parameter is
                                             required for Ed448 ("EdDSA" table)
Ed448           a context or phFlag true     MECHANISM_PARAM_INVALID: pyca's Ed448 takes
                                             no context and has no Ed448ph
==============  ===========================  =========================================
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature

from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import EddsaParams
from ..wipe import wipe_bytes
from . import ecparams, keys
from .keys import AttrDict, Attrs, public_key_info, with_info
from .keytypes import KeyTypeHandler, register_key_type
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register

#: CKA_EC_PARAMS may be the OID or a curve name.
RAW_FLAGS = F.EC_OID | F.EC_CURVENAME
SIGNATURE_LEN = {"Ed25519": 64, "Ed448": 114}


# --- the CKK_EC_EDWARDS and CKK_EC_MONTGOMERY key types (raw RFC 8032 / 7748 keys) ----------
def _raw_curve(attrs: Attrs, key_type: int) -> ecparams.RawCurve:
    if CKA.EC_PARAMS not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing")
    return ecparams.raw_curve_from_params(attrs[CKA.EC_PARAMS], key_type)


def _private_key(attrs: Attrs, key_type: int) -> ecparams.RawPrivate:
    """Ed25519/Ed448/X25519/X448 private key from CKA_VALUE (the raw RFC 8032/7748 bytes)."""
    curve = _raw_curve(attrs, key_type)
    if CKA.VALUE not in attrs:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE missing")
    raw = ecparams.unwrap_raw(attrs[CKA.VALUE], curve.private_len, "CKA_VALUE")
    try:
        return curve.private_cls.from_private_bytes(raw)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "invalid private key") from None
    finally:
        if raw is not attrs[CKA.VALUE]:    # unwrapped from a DER OCTET STRING: our copy
            wipe_bytes(raw, 1)


def _normalize(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
    """Public: CKA_EC_POINT raw or DER -> DER of the raw key; private: CKA_VALUE given as a
    DER OCTET STRING is stored raw, the spec's form. Both get CKA_PUBLIC_KEY_INFO."""
    if cls == CKO.PUBLIC_KEY:
        curve = _raw_curve(attrs, key_type)
        if CKA.EC_POINT not in attrs:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_POINT missing")
        public = ecparams.decode_raw_public(curve, attrs[CKA.EC_POINT])
        return with_info(attrs, public, {CKA.EC_POINT: ecparams.encode_point(public.public_bytes_raw())})
    if cls == CKO.PRIVATE_KEY:
        key = _private_key(attrs, key_type)
        return with_info(attrs, key.public_key(), {CKA.VALUE: key.private_bytes_raw()})
    raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")


def _private_attrs(key: Any) -> AttrDict:
    return {CKA.EC_PARAMS: ecparams.raw_curve_of_key(key).oid_der, CKA.VALUE: key.private_bytes_raw()}


def _handler(key_type: int) -> KeyTypeHandler:
    curves = [c for c in ecparams.RAW_CURVES if c.key_type == key_type]

    def public_attrs(key: Any) -> AttrDict:
        return {CKA.KEY_TYPE: key_type, CKA.EC_PARAMS: ecparams.raw_curve_of_key(key).oid_der,
                CKA.EC_POINT: ecparams.encode_point(key.public_bytes_raw())}

    return register_key_type(KeyTypeHandler(
        key_types=frozenset({key_type}), normalize=_normalize,
        size=lambda attrs: ecparams.raw_curve_from_params(attrs.get(CKA.EC_PARAMS), key_type).bits,
        load_private=lambda attrs: _private_key(attrs, key_type),
        load_public=lambda attrs: ecparams.decode_raw_public(_raw_curve(attrs, key_type), attrs.get(CKA.EC_POINT)),
        private_attrs=_private_attrs, public_attrs=public_attrs,
        pyca_private=tuple(c.private_cls for c in curves), pyca_public=tuple(c.public_cls for c in curves),
        signs=key_type == CKK.EC_EDWARDS, derives=key_type == CKK.EC_MONTGOMERY,
    ))


EDWARDS = _handler(CKK.EC_EDWARDS)
MONTGOMERY = _handler(CKK.EC_MONTGOMERY)


def _pair_generator(key_type: int) -> Callable[[object, AttrDict, AttrDict], tuple[AttrDict, AttrDict]]:
    def generate_pair(param: object, pub: AttrDict, priv: AttrDict) -> tuple[AttrDict, AttrDict]:
        params = pub.get(CKA.EC_PARAMS)
        if params is None:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing from public template")
        if CKA.EC_PARAMS in priv and priv[CKA.EC_PARAMS] != params:
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_EC_PARAMS differ between templates")
        curve = ecparams.raw_curve_from_params(params, key_type)
        key = curve.private_cls.generate()
        public = key.public_key()
        info = public_key_info(public)
        return (
            {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: key_type,
             CKA.EC_POINT: ecparams.encode_point(public.public_bytes_raw()), CKA.PUBLIC_KEY_INFO: info},
            {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: key_type, CKA.EC_PARAMS: params,
             CKA.VALUE: key.private_bytes_raw(), CKA.PUBLIC_KEY_INFO: info},
        )

    return generate_pair


def check_eddsa_param(curve: ecparams.RawCurve, param: object) -> None:
    """Refuse the EdDSA variants pyca cannot compute and Ed448 without its mandatory
    CK_EDDSA_PARAMS (see the module docstring)."""
    if param is None or param == b"":
        if curve.name == "Ed448":
            raise CKRError(CKR.MECHANISM_PARAM_INVALID,
                           "CKM_EDDSA with an Ed448 key requires CK_EDDSA_PARAMS (v3.0 Current Mechanisms, EdDSA)")
        return
    if not isinstance(param, EddsaParams):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_EDDSA_PARAMS expected")
    if curve.name == "Ed25519":
        raise CKRError(CKR.MECHANISM_PARAM_INVALID,
                       "Ed25519ctx / Ed25519ph are not available (pyca/cryptography has pure Ed25519 only)")
    if param.ph_flag or param.context:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID,
                       "Ed448ph and Ed448 contexts are not available (pyca/cryptography has pure Ed448 only)")


class EddsaOperation(Operation):
    """CKM_EDDSA: single-part (pure EdDSA hashes the whole message twice)."""

    multipart = False
    #: the pyca key of the kind (CKK_EC_EDWARDS, checked below): set for SIGN ...
    _private: ecparams.EdPrivate
    #: ... and for VERIFY
    _public: ecparams.EdPublic

    def __init__(self, kind: OpKind, key: KeyMaterial, param: object) -> None:
        self._kind = kind
        if kind is OpKind.SIGN:
            self._private, self._curve = key.parsed(_signing_key)
        else:
            self._public, self._curve = key.parsed(_verifying_key)
        if self._curve.key_type != CKK.EC_EDWARDS:
            raise CKRError(CKR.KEY_TYPE_INCONSISTENT, "CKM_EDDSA needs an Edwards key")
        check_eddsa_param(self._curve, param)
        self._data = b""

    def update(self, data: bytes) -> bytes:
        # Single-part: the first (usually only) part is kept as is; bytes += copies.
        self._data = bytes(data) if not self._data else self._data + bytes(data)
        return b""

    def final(self) -> bytes:
        if self._kind is not OpKind.SIGN:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")
        return self._private.sign(bytes(self._data))

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        if len(signature) != SIGNATURE_LEN[self._curve.name]:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "wrong EdDSA signature length")
        try:
            self._public.verify(signature, bytes(self._data))
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None


def _signing_key(attrs: Attrs) -> tuple[Any, ecparams.RawCurve]:
    """Parsed private key and its curve (cached per key by ``KeyMaterial.parsed``)."""
    key = keys.load_private(attrs)
    return key, ecparams.raw_curve_of_key(key)


def _verifying_key(attrs: Attrs) -> tuple[Any, ecparams.RawCurve]:
    key = keys.load_public(attrs)
    return key, ecparams.raw_curve_of_key(key)


def _eddsa_operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key = key_for(CKM.EDDSA, kind, (OpKind.SIGN, OpKind.VERIFY), key)
    return EddsaOperation(kind, key, param)


def _sizes(key_type: int) -> tuple[int, int]:
    bits = [c.bits for c in ecparams.RAW_CURVES if c.key_type == key_type]
    return min(bits), max(bits)


register(MechanismEntry(
    mechanism=CKM.EC_EDWARDS_KEY_PAIR_GEN, flags=F.GENERATE_KEY_PAIR | RAW_FLAGS,
    min_key_size=_sizes(CKK.EC_EDWARDS)[0], max_key_size=_sizes(CKK.EC_EDWARDS)[1],
    key_types=frozenset(), generate_pair=_pair_generator(CKK.EC_EDWARDS),
    gen_key_type=CKK.EC_EDWARDS,
))
register(MechanismEntry(
    mechanism=CKM.EC_MONTGOMERY_KEY_PAIR_GEN, flags=F.GENERATE_KEY_PAIR | RAW_FLAGS,
    min_key_size=_sizes(CKK.EC_MONTGOMERY)[0], max_key_size=_sizes(CKK.EC_MONTGOMERY)[1],
    key_types=frozenset(), generate_pair=_pair_generator(CKK.EC_MONTGOMERY),
    gen_key_type=CKK.EC_MONTGOMERY,
))
register(MechanismEntry(
    mechanism=CKM.EDDSA, flags=F.SIGN | F.VERIFY | RAW_FLAGS,
    min_key_size=_sizes(CKK.EC_EDWARDS)[0], max_key_size=_sizes(CKK.EC_EDWARDS)[1],
    key_types=frozenset({CKK.EC_EDWARDS}), param_optional=True,
    operation=_eddsa_operation,
))
