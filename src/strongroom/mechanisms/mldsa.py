"""ML-DSA (FIPS 204) key pair generation and pure signatures (PKCS#11 v3.2 "ML-DSA").

* CKM_ML_DSA_KEY_PAIR_GEN: the public template's CKA_PARAMETER_SET picks ML-DSA-44/65/87;
  see :func:`pqc.generate` for what each half receives.
* CKM_ML_DSA: sign / verify the message M (ML-DSA.Sign / ML-DSA.Verify). Optional
  parameter CK_SIGN_ADDITIONAL_CONTEXT: ``context`` is the FIPS 204 context string
  (at most 255 bytes, else CKR_MECHANISM_PARAM_INVALID); ``hedge_variant`` on signing:
  CKH_HEDGE_PREFERRED and CKH_HEDGE_REQUIRED are met (pyca signs hedged, with fresh
  randomness); CKH_DETERMINISTIC_REQUIRED cannot be met -- pyca 48 has no deterministic
  signing -- so it is CKR_MECHANISM_PARAM_INVALID. "On verification the hedgeVariant
  parameter is ignored." C_Verify is single-part only (the spec's footnote); C_Sign
  accepts C_SignUpdate and buffers the message, as pure ML-DSA needs all of it.
* CK_MECHANISM_INFO key sizes are public key lengths in bytes (1312..2592), per the spec.

Not registered, because pyca/cryptography 48 has no API for them: CKM_HASH_ML_DSA and the
CKM_HASH_ML_DSA_<hash> family (HashML-DSA, FIPS 204 §5.4), CKM_ML_DSA_EXTERNAL_MU(_GEN).
"""
from __future__ import annotations

from typing import cast

from cryptography.exceptions import InvalidSignature

from ..pkcs11.constants import CKK, CKM, CKR, HedgeType
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import SignAdditionalContext
from . import pqc
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register

MAX_CONTEXT = 255
MIN_SIZE, MAX_SIZE = pqc.register_family(CKK.ML_DSA, CKM.ML_DSA_KEY_PAIR_GEN, signs=True)


def check_param(kind: OpKind, param: SignAdditionalContext | None) -> bytes | None:
    """The context to pass to pyca (None for none); raises MECHANISM_PARAM_INVALID."""
    if param is None:
        return None
    if len(param.context) > MAX_CONTEXT:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "ML-DSA context is longer than 255 bytes")
    if kind is OpKind.SIGN:
        if param.hedge_variant == HedgeType.DETERMINISTIC_REQUIRED:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID,
                           "deterministic ML-DSA signing is not available (pyca signs hedged only)")
        if param.hedge_variant not in (HedgeType.HEDGE_PREFERRED, HedgeType.HEDGE_REQUIRED):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"unknown hedgeVariant {param.hedge_variant}")
    return param.context or None


class MlDsaOperation(Operation):
    #: the pyca key of the kind (CKK_ML_DSA: the core checked the key type): set for SIGN ...
    _private: pqc.DsaPrivate
    #: ... and for VERIFY
    _public: pqc.DsaPublic

    def __init__(self, kind: OpKind, key: KeyMaterial, param: SignAdditionalContext | None) -> None:
        self._kind = kind
        self._context = check_param(kind, param)
        self._ps = pqc.of_key(key.attrs)
        if kind is OpKind.SIGN:
            self._private = cast("pqc.DsaPrivate", key.parsed(pqc.load_private))
        else:
            self._public = cast("pqc.DsaPublic", key.parsed(pqc.load_public))
        self.multipart = kind is OpKind.SIGN
        self._data = bytearray()

    def update(self, data: bytes) -> bytes:
        self._data += data
        return b""

    def final(self) -> bytes:
        if self._kind is not OpKind.SIGN:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")
        return self._private.sign(bytes(self._data), self._context)

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        if len(signature) != self._ps.output_len:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, f"{self._ps.name} signatures are "
                                                    f"{self._ps.output_len} bytes")
        try:
            self._public.verify(signature, bytes(self._data), self._context)
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None


def operation(kind: OpKind, key: KeyMaterial | None, param: SignAdditionalContext | None) -> Operation:
    """The core has checked ``param``'s type against the entry (registry.check_param)."""
    key = key_for(CKM.ML_DSA, kind, (OpKind.SIGN, OpKind.VERIFY), key)
    return MlDsaOperation(kind, key, param)


register(MechanismEntry(
    mechanism=CKM.ML_DSA, flags=F.SIGN | F.VERIFY,
    min_key_size=MIN_SIZE, max_key_size=MAX_SIZE, key_types=frozenset({CKK.ML_DSA}),
    param_optional=True, operation=operation,
))
