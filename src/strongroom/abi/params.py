"""C mechanism-parameter structs -> ``strongroom.pkcs11.params`` dataclasses.

``DECODERS`` maps each parameter dataclass to a function ``(ffi, pParameter, length)``
returning an instance. The ABI picks the dataclass from
``pkcs11.mechanism_params.PARAM_TYPE`` (abi/mechanism_in.py); a struct of the wrong size or an inner NULL pointer
with a nonzero length is CKR_MECHANISM_PARAM_INVALID. Decoders copy every byte string
out of caller memory before returning.

Lying lengths: the struct size is compared with ``sizeof`` before the struct is read, and
every nested length (IV, AAD, label, salt, info, context ...) with its maximum in
``pkcs11/limits.py`` (``PARAM_FIELD_MAX``; AAD: the running ``max_data_len``) before its
bytes are read; anything larger is CKR_MECHANISM_PARAM_INVALID (v3.0 §5.1.6).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11 import params as P
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from collections.abc import Callable
    from typing import Any

    #: (ffi, pParameter, ulParameterLen) -> the parameter dataclass (or int)
    Decoder = Callable[[Any, Any, int], Any]
    #: (ffi, pParameter, ulParameterLen, value) -> None: value's output fields into the struct
    Writer = Callable[[Any, Any, int, Any], None]


def _bad(what: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, what)


_FIELD_MAX = L.PARAM_FIELD_MAX


def _data_max() -> int:
    """Bound of AAD: the running ``max_data_len`` (the same limit as the data itself)."""
    config = APPLICATION.config
    return (config.max_data_len if config is not None else 0) or L.DEFAULT_DATA_MAX


def _bytes(ffi: Any, ptr: Any, n: int, what: str, limit: int | str) -> bytes:
    """``n`` bytes at ``ptr``; ``limit`` is a byte count or a ``PARAM_FIELD_MAX`` key,
    checked before the memory is touched."""
    if n == 0:
        return b""
    most = _FIELD_MAX[limit] if isinstance(limit, str) else limit
    if n > most:
        raise _bad(f"{what}: length {n} above its maximum {most} (pkcs11/limits.py)")
    if not ptr:
        raise _bad(f"{what}: NULL pointer with nonzero length")
    raw: bytes = ffi.buffer(ptr, n)[:]
    return raw


def _aad(ffi: Any, ptr: Any, n: int) -> bytes:
    return _bytes(ffi, ptr, n, "pAAD", _data_max()) if n else b""


def _struct(ffi: Any, ptr: Any, n: int, ctype: str) -> Any:
    if n != ffi.sizeof(ctype):
        raise _bad(f"{ctype}: ulParameterLen {n}, expected {ffi.sizeof(ctype)}")
    return ffi.cast(ctype + " *", ptr)[0]


def _gcm(ffi: Any, ptr: Any, n: int) -> P.GcmParams:
    if n == 5 * 8:
        # v2.40 *document* layout (no ulIvBits): {pIv, ulIvLen, pAAD, ulAADLen, ulTagBits}
        u = ffi.cast("CK_ULONG *", ptr)
        iv = _bytes(ffi, ffi.cast("CK_BYTE_PTR", u[0]), u[1], "pIv", "gcm_iv")
        aad = _aad(ffi, ffi.cast("CK_BYTE_PTR", u[2]), u[3])
        return P.GcmParams(iv=iv, iv_bits=len(iv) * 8, aad=aad, tag_bits=u[4])
    s = _struct(ffi, ptr, n, "CK_GCM_PARAMS")
    return P.GcmParams(iv=_bytes(ffi, s.pIv, s.ulIvLen, "pIv", "gcm_iv"), iv_bits=s.ulIvBits,
                       aad=_aad(ffi, s.pAAD, s.ulAADLen), tag_bits=s.ulTagBits)


def _ccm(ffi: Any, ptr: Any, n: int) -> P.CcmParams:
    s = _struct(ffi, ptr, n, "CK_CCM_PARAMS")
    return P.CcmParams(data_len=s.ulDataLen,
                       nonce=_bytes(ffi, s.pNonce, s.ulNonceLen, "pNonce", "ccm_nonce"),
                       aad=_aad(ffi, s.pAAD, s.ulAADLen), mac_len=s.ulMACLen)


def _chacha(ffi: Any, ptr: Any, n: int) -> P.ChaCha20Poly1305Params:
    s = _struct(ffi, ptr, n, "CK_SALSA20_CHACHA20_POLY1305_PARAMS")
    return P.ChaCha20Poly1305Params(nonce=_bytes(ffi, s.pNonce, s.ulNonceLen, "pNonce", "chacha_nonce"),
                                    aad=_aad(ffi, s.pAAD, s.ulAADLen))


def _pss(ffi: Any, ptr: Any, n: int) -> P.RsaPssParams:
    s = _struct(ffi, ptr, n, "CK_RSA_PKCS_PSS_PARAMS")
    return P.RsaPssParams(hash_alg=s.hashAlg, mgf=s.mgf, salt_len=s.sLen)


def _oaep(ffi: Any, ptr: Any, n: int) -> P.RsaOaepParams:
    s = _struct(ffi, ptr, n, "CK_RSA_PKCS_OAEP_PARAMS")
    label = _bytes(ffi, ffi.cast("CK_BYTE_PTR", s.pSourceData), s.ulSourceDataLen, "pSourceData",
                   "oaep_label")
    return P.RsaOaepParams(hash_alg=s.hashAlg, mgf=s.mgf, source=s.source, source_data=label)


def _ecdh(ffi: Any, ptr: Any, n: int) -> P.EcdhParams:
    s = _struct(ffi, ptr, n, "CK_ECDH1_DERIVE_PARAMS")
    return P.EcdhParams(kdf=s.kdf,
                        shared_data=_bytes(ffi, s.pSharedData, s.ulSharedDataLen, "pSharedData", "ecdh_shared"),
                        public_data=_bytes(ffi, s.pPublicData, s.ulPublicDataLen, "pPublicData", "ecdh_public"))


def _eddsa(ffi: Any, ptr: Any, n: int) -> P.EddsaParams:
    s = _struct(ffi, ptr, n, "CK_EDDSA_PARAMS")
    return P.EddsaParams(ph_flag=bool(s.phFlag),
                         context=_bytes(ffi, s.pContextData, s.ulContextDataLen, "pContextData",
                                                "eddsa_context"))


def _hkdf(ffi: Any, ptr: Any, n: int) -> P.HkdfParams:
    s = _struct(ffi, ptr, n, "CK_HKDF_PARAMS")
    return P.HkdfParams(extract=bool(s.bExtract), expand=bool(s.bExpand),
                        prf_hash_mechanism=s.prfHashMechanism, salt_type=s.ulSaltType,
                        salt=_bytes(ffi, s.pSalt, s.ulSaltLen, "pSalt", "hkdf_salt"), salt_key=s.hSaltKey,
                        info=_bytes(ffi, s.pInfo, s.ulInfoLen, "pInfo", "hkdf_info"))


def _sign_ctx(ffi: Any, ptr: Any, n: int) -> P.SignAdditionalContext:
    s = _struct(ffi, ptr, n, "CK_SIGN_ADDITIONAL_CONTEXT")
    return P.SignAdditionalContext(hedge_variant=s.hedgeVariant,
                                   context=_bytes(ffi, s.pContext, s.ulContextLen, "pContext", "sign_context"))


def _hash_sign_ctx(ffi: Any, ptr: Any, n: int) -> P.HashSignAdditionalContext:
    s = _struct(ffi, ptr, n, "CK_HASH_SIGN_ADDITIONAL_CONTEXT")
    return P.HashSignAdditionalContext(hedge_variant=s.hedgeVariant,
                                       context=_bytes(ffi, s.pContext, s.ulContextLen, "pContext", "sign_context"),
                                       hash=s.hash)


def _ulong(ffi: Any, ptr: Any, n: int) -> int:
    """A plain CK_ULONG parameter (CK_MAC_GENERAL_PARAMS, ...)."""
    if n != ffi.sizeof("CK_ULONG"):
        raise _bad(f"CK_ULONG parameter: ulParameterLen {n}")
    return int(ffi.cast("CK_ULONG *", ptr)[0])


def _ctr(ffi: Any, ptr: Any, n: int) -> P.CtrParams:
    s = _struct(ffi, ptr, n, "CK_AES_CTR_PARAMS")
    return P.CtrParams(counter_bits=s.ulCounterBits, cb=ffi.buffer(s.cb, 16)[:])


def _pbkd2(ffi: Any, ptr: Any, n: int) -> P.Pbkdf2Params:
    """CK_PKCS5_PBKD2_PARAMS2, read as 9 CK_ULONG-sized fields (no struct in ck_types.h,
    so no rebuild): saltSource, pSaltSourceData, ulSaltSourceDataLen, iterations, prf,
    pPrfData, ulPrfDataLen, pPassword, ulPasswordLen. The v2.40 CK_PKCS5_PBKD2_PARAMS has
    the same size with ulPasswordLen a pointer; it is not accepted (v3.0 deprecates it)."""
    if n != 9 * ffi.sizeof("CK_ULONG"):
        raise _bad(f"CK_PKCS5_PBKD2_PARAMS2: ulParameterLen {n}")
    u = ffi.cast("CK_ULONG *", ptr)

    def ptr_at(i: int) -> Any:
        return ffi.cast("CK_BYTE_PTR", u[i])

    return P.Pbkdf2Params(salt_source=u[0], salt=_bytes(ffi, ptr_at(1), u[2], "pSaltSourceData", "pbkdf2_salt"),
                          iterations=u[3], prf=u[4],
                          prf_data=_bytes(ffi, ptr_at(5), u[6], "pPrfData", "pbkdf2_prf_data"),
                          password=_bytes(ffi, ptr_at(7), u[8], "pPassword", "pbkdf2_password"))


def _tag_len(bits: int) -> int:
    return (bits + 7) // 8


def _gcm_message(ffi: Any, ptr: Any, n: int) -> P.GcmMessageParams:
    s = _struct(ffi, ptr, n, "CK_GCM_MESSAGE_PARAMS")
    if s.ulTagBits > 128:
        raise _bad("ulTagBits above 128")
    return P.GcmMessageParams(iv=_bytes(ffi, s.pIv, s.ulIvLen, "pIv", "gcm_iv"),
                              iv_fixed_bits=s.ulIvFixedBits,
                              iv_generator=s.ivGenerator, tag_bits=s.ulTagBits,
                              tag=_bytes(ffi, s.pTag, _tag_len(s.ulTagBits), "pTag", 16))


def _chacha_message(ffi: Any, ptr: Any, n: int) -> P.ChaCha20Poly1305MessageParams:
    s = _struct(ffi, ptr, n, "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS")
    return P.ChaCha20Poly1305MessageParams(nonce=_bytes(ffi, s.pNonce, s.ulNonceLen, "pNonce", "chacha_nonce"),
                                           tag=_bytes(ffi, s.pTag, 16, "pTag", 16))


def _put(ffi: Any, dst: Any, value: bytes, room: int, what: str) -> None:
    if len(value) > room:
        raise RuntimeError(f"mechanism returned a {what} longer than the caller's buffer")
    if value:
        if not dst:
            raise _bad(f"{what}: NULL output pointer")
        ffi.memmove(dst, value, len(value))


def _write_gcm_message(ffi: Any, ptr: Any, n: int, out: P.GcmMessageParams) -> None:
    s = _struct(ffi, ptr, n, "CK_GCM_MESSAGE_PARAMS")
    _put(ffi, s.pIv, out.iv, s.ulIvLen, "IV")
    _put(ffi, s.pTag, out.tag, _tag_len(s.ulTagBits), "tag")


def _write_chacha_message(ffi: Any, ptr: Any, n: int, out: P.ChaCha20Poly1305MessageParams) -> None:
    s = _struct(ffi, ptr, n, "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS")
    _put(ffi, s.pNonce, out.nonce, s.ulNonceLen, "nonce")
    _put(ffi, s.pTag, out.tag, 16, "tag")


#: Writers for parameters with output fields: ``(ffi, pParameter, length, value)`` copies the
#: outputs of ``value`` (what the mechanism returned) back into the caller's struct.
WRITERS: dict[type, Writer] = {
    P.GcmMessageParams: _write_gcm_message,
    P.ChaCha20Poly1305MessageParams: _write_chacha_message,
}

DECODERS: dict[type, Decoder] = {
    P.GcmMessageParams: _gcm_message,
    P.ChaCha20Poly1305MessageParams: _chacha_message,
    int: _ulong,
    P.CtrParams: _ctr,
    P.Pbkdf2Params: _pbkd2,
    P.GcmParams: _gcm,
    P.CcmParams: _ccm,
    P.ChaCha20Poly1305Params: _chacha,
    P.RsaPssParams: _pss,
    P.RsaOaepParams: _oaep,
    P.EcdhParams: _ecdh,
    P.EddsaParams: _eddsa,
    P.HkdfParams: _hkdf,
    P.SignAdditionalContext: _sign_ctx,
    P.HashSignAdditionalContext: _hash_sign_ctx,
}
