"""AES key wrap (PKCS#11 v3.1 Current Mechanisms §2.14; NIST SP 800-38F) through pyca's
``keywrap``:

* CKM_AES_KEY_WRAP: RFC 3394 (KW). Input a multiple of 8 bytes, at least 16, else
  DATA_LEN_RANGE; ciphertext a multiple of 8, at least 24, else
  ENCRYPTED_DATA_LEN_RANGE; integrity failure ENCRYPTED_DATA_INVALID.
* CKM_AES_KEY_WRAP_KWP: RFC 5649 (KWP), any non-empty input.
* CKM_AES_KEY_WRAP_PAD and CKM_AES_KEY_WRAP_PKCS7: PKCS #7 padding to a multiple of 8
  bytes, then RFC 3394. v3.1 defines CKM_AES_KEY_WRAP_PAD this way (and deprecates it
  because tokens such as SoftHSM2 implemented RFC 5649 under its number -- SoftHSM2
  #726); strongroom follows the spec: RFC 5649 is CKM_AES_KEY_WRAP_KWP.

The optional parameter is the initial value (8 bytes for KW / PKCS7, 4 for KWP). pyca's
keywrap only uses the default IVs (A6A6A6A6A6A6A6A6 / A65959A6), so only those are
accepted; any other is CKR_MECHANISM_PARAM_INVALID (pyca limitation).

The input is needed whole: ``update`` buffers and ``final`` wraps (multi-part calls are
accepted and simply concatenate). Usable as encrypt/decrypt and as C_WrapKey/C_UnwrapKey.
"""
from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import keywrap, padding

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKK, CKM, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from .keys import AES_KEY_LENGTHS, load_secret
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register

if TYPE_CHECKING:
    from .registry import OperationFactory

KW_IV = bytes.fromhex("A6A6A6A6A6A6A6A6")
KWP_IV = bytes.fromhex("A65959A6")
_ENCRYPTS = {OpKind.ENCRYPT: True, OpKind.WRAP: True, OpKind.DECRYPT: False, OpKind.UNWRAP: False}


def _kw_wrap(k: bytes, data: bytes) -> bytes:
    if len(data) < 16 or len(data) % 8:
        raise CKRError(CKR.DATA_LEN_RANGE, "KW input must be a multiple of 8 bytes, >= 16")
    return keywrap.aes_key_wrap(k, data)


def _kwp_wrap(k: bytes, data: bytes) -> bytes:
    if not data:
        raise CKRError(CKR.DATA_LEN_RANGE, "KWP input must not be empty")
    return keywrap.aes_key_wrap_with_padding(k, data)


def _checked_unwrap(unwrap: Callable[[bytes, bytes], bytes], minimum: int,
                    name: str) -> Callable[[bytes, bytes], bytes]:
    """``unwrap`` behind the ciphertext length check and with the integrity failure as
    ENCRYPTED_DATA_INVALID (KW and KWP differ only in the minimum)."""
    def run(k: bytes, data: bytes) -> bytes:
        if len(data) < minimum or len(data) % 8:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, f"{name} ciphertext must be 8n bytes, >= {minimum}")
        try:
            return unwrap(k, data)
        except keywrap.InvalidUnwrap:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "key unwrap integrity check failed") from None

    return run


_kw_unwrap = _checked_unwrap(keywrap.aes_key_unwrap, 24, "KW")
_kwp_unwrap = _checked_unwrap(keywrap.aes_key_unwrap_with_padding, 16, "KWP")


def _pkcs7_wrap(k: bytes, data: bytes) -> bytes:
    p = padding.PKCS7(64).padder()
    return _kw_wrap(k, p.update(data) + p.finalize())


def _pkcs7_unwrap(k: bytes, data: bytes) -> bytes:
    padded = _kw_unwrap(k, data)
    u = padding.PKCS7(64).unpadder()
    try:
        return u.update(padded) + u.finalize()
    except ValueError:
        raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "bad padding") from None


class Buffered(Operation):
    """Collects the whole input; ``final`` applies ``fn(key, data)``."""

    def __init__(self, key: bytes, fn: Callable[[bytes, bytes], bytes]) -> None:
        self._key, self._fn, self._buf = key, fn, bytearray()

    def update(self, data: bytes) -> bytes:
        self._buf += data
        return b""

    def final(self) -> bytes:
        return self._fn(self._key, bytes(self._buf))


# mech -> (default IV, wrap, unwrap)
_VARIANTS: dict[int, tuple[bytes, Callable[[bytes, bytes], bytes], Callable[[bytes, bytes], bytes]]] = {
    CKM.AES_KEY_WRAP: (KW_IV, _kw_wrap, _kw_unwrap),
    CKM.AES_KEY_WRAP_KWP: (KWP_IV, _kwp_wrap, _kwp_unwrap),
    CKM.AES_KEY_WRAP_PAD: (KW_IV, _pkcs7_wrap, _pkcs7_unwrap),
    CKM.AES_KEY_WRAP_PKCS7: (KW_IV, _pkcs7_wrap, _pkcs7_unwrap),
}


def _factory(mech: int) -> OperationFactory:
    iv, wrap, unwrap = _VARIANTS[mech]

    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        key = key_for(mech, kind, _ENCRYPTS, key)
        if param not in (None, b"", iv):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "only the default key-wrap IV is supported")
        value = key.parsed(load_secret)
        if len(value) not in AES_KEY_LENGTHS:
            raise CKRError(CKR.KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes")
        return Buffered(value, wrap if _ENCRYPTS[kind] else unwrap)

    return operation


for _mech in _VARIANTS:
    register(MechanismEntry(
        mechanism=_mech, flags=F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP,
        key_types=frozenset({CKK.AES}), min_key_size=min(AES_KEY_LENGTHS),
        max_key_size=max(AES_KEY_LENGTHS), param_optional=True,
        operation=_factory(_mech),
    ))
