"""ChaCha20-Poly1305 (PKCS#11 v3.0 Current Mechanisms §2.x "ChaCha20/Poly1305"; RFC 8439)
through pyca's ``ChaCha20Poly1305`` AEAD.

* CKM_CHACHA20_KEY_GEN: a 32-byte CKK_CHACHA20 key (CKA_VALUE_LEN optional, 32 if given).
* CKM_CHACHA20_POLY1305 with CK_SALSA20_CHACHA20_POLY1305_PARAMS: the 96-bit-nonce IETF
  construction. An 8-byte (64-bit) nonce -- the original construction the spec also
  allows -- is CKR_MECHANISM_PARAM_INVALID: pyca implements RFC 8439 only. The 16-byte
  tag follows the ciphertext. pyca's AEAD is one-shot, so multi-part calls buffer and
  the whole result comes from final; decryption releases nothing before the tag verified.
* Message-based API (C_MessageEncrypt/Decrypt) with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS
  (params.ChaCha20Poly1305MessageParams): the tag goes in / comes back in the parameter.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import ChaCha20Poly1305MessageParams, ChaCha20Poly1305Params
from .keys import load_secret
from .keytypes import AttrDict, register_key_type, secret_handler
from .registry import CollectingOperation, KeyMaterial, MechanismEntry, MessageOperation, OpKind, key_for, register

KEY_LEN = 32
register_key_type(secret_handler(frozenset({CKK.CHACHA20}), (KEY_LEN,)))
NONCE_LEN = 12
TAG_LEN = 16
_ENCRYPTS = {OpKind.ENCRYPT: True, OpKind.WRAP: True, OpKind.DECRYPT: False, OpKind.UNWRAP: False}


def _load(attrs: Mapping[int, Any]) -> ChaCha20Poly1305:
    value = load_secret(attrs)
    if len(value) != KEY_LEN:
        raise CKRError(CKR.KEY_SIZE_RANGE, "ChaCha20 key must be 32 bytes")
    return ChaCha20Poly1305(value)


def _nonce(nonce: bytes) -> bytes:
    if len(nonce) != NONCE_LEN:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "only 96-bit (12-byte) nonces are supported")
    return nonce


class ChaChaOp(CollectingOperation):
    """Buffers the whole input; ``final`` seals or opens it."""

    def __init__(self, aead: ChaCha20Poly1305, p: ChaCha20Poly1305Params, encrypt: bool) -> None:
        self._aead, self._nonce, self._aad, self._encrypt = aead, _nonce(p.nonce), p.aad, encrypt
        self._buf = bytearray()

    def final(self) -> bytes:
        data = bytes(self._buf)
        if self._encrypt:
            return self._aead.encrypt(self._nonce, data, self._aad or None)
        if len(data) < TAG_LEN:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "shorter than the tag")
        try:
            return self._aead.decrypt(self._nonce, data, self._aad or None)
        except InvalidTag:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "Poly1305 tag mismatch") from None


def _operation(kind: OpKind, key: KeyMaterial | None, param: object) -> ChaChaOp:
    key = key_for(CKM.CHACHA20_POLY1305, kind, _ENCRYPTS, key)
    if not isinstance(param, ChaCha20Poly1305Params):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_SALSA20_CHACHA20_POLY1305_PARAMS required")
    return ChaChaOp(key.parsed(_load), param, _ENCRYPTS[kind])


class ChaChaMessage(MessageOperation):
    def __init__(self, aead: ChaCha20Poly1305, encrypt: bool) -> None:
        self._aead, self._encrypt = aead, encrypt

    @staticmethod
    def _check(p: object) -> ChaCha20Poly1305MessageParams:
        if not isinstance(p, ChaCha20Poly1305MessageParams):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS required")
        _nonce(p.nonce)
        return p

    def encrypt(self, param: Any, aad: bytes, data: bytes) -> tuple[bytes, Any]:
        if not self._encrypt:
            return super().encrypt(param, aad, data)
        p = self._check(param)
        out = self._aead.encrypt(p.nonce, data, aad or None)
        return out[:-TAG_LEN], replace(p, tag=out[-TAG_LEN:])

    def decrypt(self, param: Any, aad: bytes, data: bytes) -> bytes:
        if self._encrypt:
            return super().decrypt(param, aad, data)
        p = self._check(param)
        if len(p.tag) != TAG_LEN:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "tag must be 16 bytes")
        try:
            return self._aead.decrypt(p.nonce, data + p.tag, aad or None)
        except InvalidTag:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "Poly1305 tag mismatch") from None


def _message(kind: OpKind, key: KeyMaterial, param: object) -> MessageOperation:
    key = key_for(CKM.CHACHA20_POLY1305, kind, (OpKind.ENCRYPT, OpKind.DECRYPT), key)
    return ChaChaMessage(key.parsed(_load), kind is OpKind.ENCRYPT)


def generate(param: object, template: AttrDict) -> AttrDict:
    length = template.get(CKA.VALUE_LEN, KEY_LEN)
    if length != KEY_LEN:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be 32")
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.CHACHA20,
            CKA.VALUE: os.urandom(KEY_LEN), CKA.VALUE_LEN: KEY_LEN}


register(MechanismEntry(mechanism=CKM.CHACHA20_KEY_GEN, flags=F.GENERATE, min_key_size=KEY_LEN,
                        max_key_size=KEY_LEN, key_types=frozenset(), generate=generate, gen_key_type=CKK.CHACHA20))
register(MechanismEntry(
    mechanism=CKM.CHACHA20_POLY1305,
    flags=F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP | F.MESSAGE_ENCRYPT | F.MESSAGE_DECRYPT,
    min_key_size=KEY_LEN, max_key_size=KEY_LEN, key_types=frozenset({CKK.CHACHA20}),
    operation=_operation, message=_message))
