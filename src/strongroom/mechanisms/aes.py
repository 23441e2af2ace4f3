"""AES: key generation, GCM and CBC with PKCS #7 padding
(PKCS#11 v3.0 Current Mechanisms §2.10 AES, §2.13 GCM/CCM).

Key sizes in CK_MECHANISM_INFO are bytes for AES (16..32).

CKM_AES_GCM (CK_GCM_PARAMS, §2.13.5): the IV must be 8..128 bytes — the spec allows
1..256 but pyca/OpenSSL accept only 8..128, so anything else is
CKR_MECHANISM_PARAM_INVALID; ``iv_bits`` is ignored as the spec instructs ("do not use
ulIvBits to specify the length"). Tag lengths are those NIST SP 800-38D §5.2.1.2 allows:
32, 64, 96..128 in steps of 8 (the spec's 0..128 includes tags that authenticate
nothing). Encryption streams; the tag follows the ciphertext (from C_EncryptFinal in
multi-part). Decryption buffers everything and releases plaintext only in final, after
the tag verified (§2.13.4: a bad tag is CKR_ENCRYPTED_DATA_INVALID) — never unauthenticated
plaintext.

CKM_AES_CBC_PAD (§2.10.5): 16-byte IV parameter; PKCS #7 padding; decrypt_update holds
back the last block until final, since it may be padding.
"""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR, MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import GcmParams
from .keys import AES_KEY_LENGTHS, load_secret
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, register, unsupported_kind

BLOCK = 16
GCM_IV_RANGE = range(8, 129)
GCM_TAG_BITS = frozenset({32, 64, 96, 104, 112, 120, 128})
_KEY_TYPES = frozenset({CKK.AES})


def _algorithm(key: KeyMaterial) -> algorithms.AES:
    value = key.parsed(load_secret)
    if len(value) not in AES_KEY_LENGTHS:
        raise CKRError(CKR.KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes")
    return algorithms.AES(value)


class GcmEncrypt(Operation):
    """Streaming GCM encryption; ``final`` returns the truncated tag."""

    def __init__(self, key: KeyMaterial, p: GcmParams) -> None:
        self._enc = Cipher(_algorithm(key), modes.GCM(p.iv)).encryptor()
        self._enc.authenticate_additional_data(p.aad)
        self._tag_len = p.tag_bits // 8

    def update(self, data: bytes) -> bytes:
        return self._enc.update(data)

    def final(self) -> bytes:
        return self._enc.finalize() + self._enc.tag[: self._tag_len]


class GcmDecrypt(Operation):
    """Buffered GCM decryption: nothing is released before the tag is verified."""

    def __init__(self, key: KeyMaterial, p: GcmParams) -> None:
        self._alg, self._p = _algorithm(key), p
        self._tag_len = p.tag_bits // 8
        self._buf = bytearray()

    def update(self, data: bytes) -> bytes:
        self._buf += data
        return b""

    def final(self) -> bytes:
        if len(self._buf) < self._tag_len:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "shorter than the tag")
        split = len(self._buf) - self._tag_len
        ct, tag = bytes(self._buf[:split]), bytes(self._buf[split:])
        mode = modes.GCM(self._p.iv, tag, min_tag_length=self._tag_len)
        dec = Cipher(self._alg, mode).decryptor()
        dec.authenticate_additional_data(self._p.aad)
        try:
            return dec.update(ct) + dec.finalize()
        except InvalidTag:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "GCM tag mismatch") from None


class CbcPadEncrypt(Operation):
    """CBC + PKCS #7, streaming whole blocks."""

    def __init__(self, key: KeyMaterial, iv: bytes) -> None:
        self._enc = Cipher(_algorithm(key), modes.CBC(iv)).encryptor()
        self._pad = padding.PKCS7(BLOCK * 8).padder()

    def update(self, data: bytes) -> bytes:
        return self._enc.update(self._pad.update(data))

    def final(self) -> bytes:
        return self._enc.update(self._pad.finalize()) + self._enc.finalize()


class CbcPadDecrypt(Operation):
    """CBC + PKCS #7; pyca's unpadder holds back the last block until final."""

    def __init__(self, key: KeyMaterial, iv: bytes) -> None:
        self._dec = Cipher(_algorithm(key), modes.CBC(iv)).decryptor()
        self._unpad = padding.PKCS7(BLOCK * 8).unpadder()
        self._total = 0

    def update(self, data: bytes) -> bytes:
        self._total += len(data)
        return self._unpad.update(self._dec.update(data))

    def final(self) -> bytes:
        if self._total == 0 or self._total % BLOCK:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "not a positive multiple of 16 bytes")
        tail = self._dec.finalize()
        try:
            return self._unpad.update(tail) + self._unpad.finalize()
        except ValueError:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "bad padding") from None


def _gcm(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    if kind not in (OpKind.ENCRYPT, OpKind.DECRYPT):
        raise unsupported_kind(CKM.AES_GCM, kind)
    if key is None:
        raise CKRError(CKR.KEY_NEEDED)
    if not isinstance(param, GcmParams):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_GCM_PARAMS required")
    if len(param.iv) not in GCM_IV_RANGE:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "GCM IV must be 8..128 bytes")
    if param.tag_bits not in GCM_TAG_BITS:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "GCM tag must be 32, 64 or 96..128 bits")
    return (GcmEncrypt if kind is OpKind.ENCRYPT else GcmDecrypt)(key, param)


def _cbc_pad(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    if kind not in (OpKind.ENCRYPT, OpKind.DECRYPT):
        raise unsupported_kind(CKM.AES_CBC_PAD, kind)
    if key is None:
        raise CKRError(CKR.KEY_NEEDED)
    if not isinstance(param, bytes) or len(param) != BLOCK:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CBC IV must be 16 bytes")
    return (CbcPadEncrypt if kind is OpKind.ENCRYPT else CbcPadDecrypt)(key, param)


def generate(param: object, template: dict) -> dict:
    """CKM_AES_KEY_GEN (§2.10.3): CKA_VALUE_LEN from the template; contributes the value.

    Also returns CKA_CLASS and CKA_KEY_TYPE, which the spec says the mechanism contributes.
    """
    length = template.get(CKA.VALUE_LEN)
    if length is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN missing")
    if length not in AES_KEY_LENGTHS:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be 16, 24 or 32")
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES,
            CKA.VALUE: os.urandom(length), CKA.VALUE_LEN: length}


_SIZES = dict(min_key_size=min(AES_KEY_LENGTHS), max_key_size=max(AES_KEY_LENGTHS))
register(MechanismEntry(mechanism=CKM.AES_KEY_GEN, flags=F.GENERATE, key_types=frozenset(),
                        param_type=None, generate=generate, gen_key_type=CKK.AES, **_SIZES))
register(MechanismEntry(mechanism=CKM.AES_GCM, flags=F.ENCRYPT | F.DECRYPT, key_types=_KEY_TYPES,
                        param_type=GcmParams, operation=_gcm, **_SIZES))
register(MechanismEntry(mechanism=CKM.AES_CBC_PAD, flags=F.ENCRYPT | F.DECRYPT,
                        key_types=_KEY_TYPES, param_type=bytes, operation=_cbc_pad, **_SIZES))
