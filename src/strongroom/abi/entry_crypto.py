"""Cryptographic operations (v3.0 §5.8 - §5.13, §5.17): C_EncryptInit .. C_VerifyRecover,
C_SeedRandom, C_GenerateRandom; the application's ``crypto`` (encrypt, decrypt, digest)
and ``signatures`` (sign, verify, recover) chapters.

The look-alike calls are made by three factories -- ``single`` (data in, output out),
``final`` (output out), ``feed`` (data in) -- and bound by name below, each to the
application method it calls; the C_Sign / C_Encrypt hot path is the C wrapper, the
factory's function, the core method.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as _limits
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from ..token.operations import InPlace
from .extern import ARGUMENTS_BAD, OK, data, deliver, exported, extern, plain
from .guards import DATA_LEN_RANGE, SIGNATURE_LEN_RANGE, input_rv, max_data_len, refuse, too_long
from .mechanism_in import mechanism
from .native import ffi

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_buffer = ffi.buffer
_crypto = APPLICATION.crypto
_signatures = APPLICATION.signatures
_VIEW_MIN = 4096   # inputs at least this long reach one-shot operations without a copy
_NEVER = 1 << 62


def init_with_key(core: Callable[[int, Any, int], None]) -> Callable[[int, Any, int], int]:
    """C_*Init with a key: (h, pMechanism, hKey)."""
    def f(h: int, pMechanism: Any, hKey: int) -> int:
        core(h, mechanism(pMechanism), hKey)
        return OK
    return f


def _single(core: Callable[..., Any], slot: str, view: bool = False,
            into: bool = False) -> Callable[[int, Any, int, Any, Any], int]:
    """C_Encrypt / C_Decrypt / C_Digest / C_Sign and the output-producing updates:
    (h, in, inLen, out, *outLen).

    ``view``: a large input is handed over as a view of the caller's buffer (valid for
    this call only); the core gives views only to operations that finish within the
    call (operations.single's ``oneshot``) and copies it to ``bytes`` for every other one.
    ``into``: the core may also write the output straight into the caller's buffer
    (C_Encrypt; the result is then an ``InPlace`` length)."""
    minimum = _VIEW_MIN if view else _NEVER
    code = too_long(slot)

    def f(h: int, pIn: Any, ulIn: int, pOut: Any, pulOut: Any) -> int:
        if ulIn > max_data_len[0] or not pulOut or (ulIn and not pIn):
            return refuse(h, slot, input_rv(pIn, ulIn, code) or ARGUMENTS_BAD)
        if ulIn >= minimum:
            if into and pOut:
                cap = pulOut[0]
                out = core(h, _buffer(pIn, ulIn), cap, _buffer(pOut, cap))
                if out.__class__ is InPlace:   # written in place by the operation
                    pulOut[0] = int(out)
                    return OK
            else:
                out = core(h, _buffer(pIn, ulIn), pulOut[0] if pOut else None)
        else:
            out = core(h, _buffer(pIn, ulIn)[:] if ulIn else b"", pulOut[0] if pOut else None)
        return deliver(out, pOut, pulOut)
    return f


def _final(core: Callable[[int, int | None], bytes | int], slot: str) -> Callable[[int, Any, Any], int]:
    """C_*Final with output: (h, out, *outLen)."""
    def f(h: int, pOut: Any, pulOut: Any) -> int:
        if not pulOut:
            return refuse(h, slot, ARGUMENTS_BAD)
        return deliver(core(h, pulOut[0] if pOut else None), pOut, pulOut)
    return f


def _feed(core: Callable[[int, bytes], None], slot: str) -> Callable[[int, Any, int], int]:
    """Input-only calls: (h, data, len) -> core(h, data)."""
    code = too_long(slot)

    def f(h: int, p: Any, n: int) -> int:
        rv = input_rv(p, n, code)
        if rv:
            return refuse(h, slot, rv)
        core(h, _buffer(p, n)[:] if n else b"")
        return OK
    return f


extern("sr_py_EncryptInit", init_with_key(_crypto.encrypt_init))
extern("sr_py_Encrypt", _single(_crypto.encrypt, "encrypt", view=True, into=True))
extern("sr_py_EncryptUpdate", _single(_crypto.encrypt_update, "encrypt"))
extern("sr_py_EncryptFinal", _final(_crypto.encrypt_final, "encrypt"))
extern("sr_py_DecryptInit", init_with_key(_crypto.decrypt_init))
extern("sr_py_Decrypt", _single(_crypto.decrypt, "decrypt", view=True))
extern("sr_py_DecryptUpdate", _single(_crypto.decrypt_update, "decrypt"))
extern("sr_py_DecryptFinal", _final(_crypto.decrypt_final, "decrypt"))
extern("sr_py_Digest", _single(_crypto.digest, "digest", view=True))
extern("sr_py_DigestUpdate", _feed(_crypto.digest_update, "digest"))
extern("sr_py_DigestFinal", _final(_crypto.digest_final, "digest"))
extern("sr_py_DigestKey", plain(_crypto.digest_key))
extern("sr_py_SignInit", init_with_key(_signatures.sign_init))
extern("sr_py_Sign", _single(_signatures.sign, "sign"))
extern("sr_py_SignUpdate", _feed(_signatures.sign_update, "sign"))
extern("sr_py_SignFinal", _final(_signatures.sign_final, "sign"))
extern("sr_py_VerifyInit", init_with_key(_signatures.verify_init))
extern("sr_py_VerifyUpdate", _feed(_signatures.verify_update, "verify"))
extern("sr_py_SignRecoverInit", init_with_key(_signatures.sign_recover_init))
extern("sr_py_SignRecover", _single(_signatures.sign_recover, "sign_recover"))
extern("sr_py_VerifyRecoverInit", init_with_key(_signatures.verify_recover_init))
extern("sr_py_VerifyRecover", _single(_signatures.verify_recover, "verify_recover"))


@exported
def sr_py_DigestInit(h: int, pMechanism: Any) -> int:
    _crypto.digest_init(h, mechanism(pMechanism))
    return OK


@exported
def sr_py_Verify(h: int, pData: Any, ulDataLen: int, pSig: Any, ulSigLen: int) -> int:
    rv = input_rv(pData, ulDataLen, DATA_LEN_RANGE) or input_rv(pSig, ulSigLen, SIGNATURE_LEN_RANGE)
    if rv:
        return refuse(h, "verify", rv)
    _signatures.verify(h, data(pData, ulDataLen), data(pSig, ulSigLen))
    return OK


@exported
def sr_py_VerifyFinal(h: int, pSig: Any, ulSigLen: int) -> int:
    rv = input_rv(pSig, ulSigLen, SIGNATURE_LEN_RANGE)
    if rv:
        return refuse(h, "verify", rv)
    _signatures.verify_final(h, data(pSig, ulSigLen))
    return OK


_MAX_RANDOM_LEN = _limits.MAX_RANDOM_LEN
_MAX_SEED_LEN = _limits.MAX_SEED_LEN


@exported
def sr_py_SeedRandom(h: int, pSeed: Any, ulSeedLen: int) -> int:
    """C_SeedRandom: a seed above MAX_SEED_LEN is CKR_ARGUMENTS_BAD before it is read
    (C_SeedRandom has no length code, v3.0 §5.17)."""
    if ulSeedLen > _MAX_SEED_LEN:
        raise CKRError(ARGUMENTS_BAD, f"ulSeedLen above {_MAX_SEED_LEN} (pkcs11/limits.py)")
    APPLICATION.seed_random(h, data(pSeed, ulSeedLen))
    return OK


@exported
def sr_py_GenerateRandom(h: int, pRandom: Any, ulLen: int) -> int:
    """C_GenerateRandom: above MAX_RANDOM_LEN CKR_ARGUMENTS_BAD at once (the function has
    no range code, v3.0 §5.17), never an allocation of ulRandomLen bytes."""
    if ulLen > _MAX_RANDOM_LEN:
        raise CKRError(ARGUMENTS_BAD, f"ulRandomLen above {_MAX_RANDOM_LEN} (pkcs11/limits.py)")
    out = APPLICATION.generate_random(h, ulLen)
    if len(out) != ulLen:
        raise RuntimeError("core returned the wrong number of random bytes")
    if ulLen:
        ffi.memmove(pRandom, out, ulLen)
    return OK
