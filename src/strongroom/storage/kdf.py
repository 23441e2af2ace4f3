"""PIN-derived keys and the wrapped master key.

Each token has one random 32-byte master key. It is stored only wrapped (AES-256-GCM)
under a key derived from a PIN with scrypt, once per user type (SO, USER). Why scrypt:
it is memory-hard, so a stolen database is expensive to brute-force on GPUs (the
SoftHSM2/Kryoptic iteration counts are not). Why per-wrap parameters and salt: they are
stored beside the wrap so a later release can raise the cost on the next C_SetPIN
without breaking existing tokens.

The wrap's associated data binds the token uuid and the user type, so a wrap cannot be
copied to another token or from the SO slot to the USER slot of the same token.
"""
from __future__ import annotations

import os
import struct

# pyca/cryptography and hashlib/hmac are imported where used: C_Initialize never derives
# or checks a key, and importing them costs ~15 ms of cold start (docs/performance.md).
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..wipe import zero
from .base import KdfParams

MASTER_KEY_LEN = 32
SALT_LEN = 16
NONCE_LEN = 12
_WRAP_AAD_PREFIX = b"strongroom master key wrap\x00"
_CHECK_LABEL = b"strongroom master key check"

# Bounds keep a corrupted/hostile row from asking for absurd memory or a weak setting.
_MIN_LOG2_N, _MAX_LOG2_N = 10, 24


def check_params(kdf: KdfParams) -> None:
    """Refuse parameters that are too weak or would exhaust memory (ARGUMENTS_BAD)."""
    if not (_MIN_LOG2_N <= kdf.log2_n <= _MAX_LOG2_N and 1 <= kdf.r <= 32 and 1 <= kdf.p <= 16):
        raise CKRError(CKR.ARGUMENTS_BAD, "scrypt parameters out of range")


def derive_pin_key(pin: bytes | bytearray, salt: bytes, kdf: KdfParams) -> bytearray:
    """scrypt(pin, salt) -> 32-byte key-encryption key, in a bytearray the caller zeroes
    (``derive_into``: the key never exists as an immutable ``bytes``; the PIN is passed
    as given, not copied)."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    check_params(kdf)
    n = 1 << kdf.log2_n
    out = bytearray(32)
    Scrypt(salt=salt, length=32, n=n, r=kdf.r, p=kdf.p).derive_into(pin, out)
    return out


def _aad(token_uuid: bytes, user_type: int) -> bytes:
    return _WRAP_AAD_PREFIX + token_uuid + struct.pack(">Q", int(user_type))


def wrap_master_key(master_key: bytes | bytearray, pin: bytes | bytearray, kdf: KdfParams,
                    token_uuid: bytes, user_type: int) -> tuple[bytes, bytes]:
    """Returns (salt, nonce ‖ ciphertext) with a fresh random salt and nonce."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt = os.urandom(SALT_LEN)
    nonce = os.urandom(NONCE_LEN)
    kek = derive_pin_key(pin, salt, kdf)
    try:
        return salt, nonce + AESGCM(kek).encrypt(nonce, master_key, _aad(token_uuid, user_type))
    finally:
        zero(kek)


def unwrap_master_key(wrapped: bytes, salt: bytes, pin: bytes | bytearray, kdf: KdfParams,
                      token_uuid: bytes, user_type: int) -> bytearray | None:
    """The master key, or None when the PIN is wrong (or the wrap was tampered with:
    GCM cannot tell the two apart, and either way the PIN does not open this token).

    The key is a ``bytearray`` (``decrypt_into``) that its holder zeroes when done
    (token/login.py LoginState.clear); the PIN key is zeroed here."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(wrapped) != NONCE_LEN + MASTER_KEY_LEN + 16:
        return None
    kek = derive_pin_key(pin, salt, kdf)
    out = bytearray(MASTER_KEY_LEN)
    try:
        AESGCM(kek).decrypt_into(wrapped[:NONCE_LEN], wrapped[NONCE_LEN:],
                                 _aad(token_uuid, user_type), out)
    except InvalidTag:
        zero(out)
        return None
    finally:
        zero(kek)
    return out


def key_check(master_key: bytes | bytearray, token_uuid: bytes) -> bytes:
    """A check value stored with the token so writers can refuse a wrong master key
    (which would otherwise seal objects nobody can open). Reveals nothing useful: the
    key is 256 random bits, and the wraps already allow verifying a guess."""
    import hashlib
    import hmac

    return hmac.new(master_key, _CHECK_LABEL + token_uuid, hashlib.sha256).digest()[:16]


def verify_master_key(master_key: bytes | bytearray, token_uuid: bytes, check: bytes) -> None:
    """CKRError(GENERAL_ERROR) unless ``master_key`` belongs to this token."""
    import hmac

    if len(master_key) != MASTER_KEY_LEN or not hmac.compare_digest(
            key_check(master_key, token_uuid), check):
        raise CKRError(CKR.GENERAL_ERROR, "master key does not belong to this token")
