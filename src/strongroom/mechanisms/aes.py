"""AES: key generation, ECB, CBC, CBC with PKCS #7 padding, CTR and GCM (incl. the v3.0
message-based API) (PKCS#11 v3.0 Current Mechanisms §2.10 AES, §2.13 GCM/CCM).
CMAC is in aes_mac.py, key wrap (RFC 3394 / 5649) in aes_wrap.py.

Every cipher mode here also serves C_WrapKey / C_UnwrapKey (OpKind.WRAP / UNWRAP are
encrypt / decrypt of the key image), as the AES mechanism table allows.

CKM_AES_ECB / CKM_AES_CBC (§2.10.4, §2.10.5): no padding; the total input must be a
multiple of 16 bytes, else CKR_DATA_LEN_RANGE (encrypt) or CKR_ENCRYPTED_DATA_LEN_RANGE
(decrypt), reported by the final call. Multi-part output is whole blocks.

CKM_AES_CTR (CK_AES_CTR_PARAMS, §2.10.6): 0 < ulCounterBits <= 128 else
MECHANISM_PARAM_INVALID. The counter is the low ``counter_bits`` bits of the block; the
spec forbids it to wrap, so an input that would need more counter values than remain is
refused (DATA_LEN_RANGE / ENCRYPTED_DATA_LEN_RANGE) -- which also makes pyca's full
128-bit increment identical to the spec's increment of the counter field.

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
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import AEADEncryptionContext, Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from ..pkcs11.constants import GeneratorFunction as G
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import CtrParams, GcmMessageParams, GcmParams
from .checkvalue import aes_check_value
from .keys import AES_KEY_LENGTHS, load_secret
from .keytypes import AttrDict, register_key_type, secret_handler
from .registry import (
    CollectingOperation,
    KeyMaterial,
    MechanismEntry,
    MessageOperation,
    Operation,
    OpKind,
    key_for,
    register,
)

BLOCK = 16
GCM_IV_RANGE = range(8, 129)
GCM_TAG_BITS = frozenset({32, 64, 96, 104, 112, 120, 128})
_KEY_TYPES = frozenset({CKK.AES})
register_key_type(secret_handler(_KEY_TYPES, AES_KEY_LENGTHS))


def _algorithm(key: KeyMaterial) -> algorithms.AES:
    value = key.parsed(load_secret)
    if len(value) not in AES_KEY_LENGTHS:
        raise CKRError(CKR.KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes")
    return algorithms.AES(value)


def _aesgcm(attrs: Mapping[int, Any]) -> AESGCM:
    """pyca's one-shot AEAD object for a key (cached per key by ``KeyMaterial.parsed``);
    the key length is checked here, so a cached object is a valid AES key."""
    value = load_secret(attrs)
    if len(value) not in AES_KEY_LENGTHS:
        raise CKRError(CKR.KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes")
    return AESGCM(value)


class GcmEncrypt(Operation):
    """GCM encryption; ``final`` returns the truncated tag.

    Single-part C_Encrypt goes through ``oneshot`` (pyca's AESGCM: one pass, an order of
    magnitude faster on large inputs than the streaming Cipher); multi-part streams."""

    def __init__(self, key: KeyMaterial, p: GcmParams) -> None:
        # The key length is checked at init (by _aesgcm); the AEAD object is cached per key.
        self._aead = key.parsed(_aesgcm)
        self._key, self._p = key, p
        self._enc: AEADEncryptionContext | None = None
        self._tag_len = p.tag_bits // 8

    def _stream(self) -> AEADEncryptionContext:
        if self._enc is None:
            self._enc = Cipher(_algorithm(self._key), modes.GCM(self._p.iv)).encryptor()
            self._enc.authenticate_additional_data(self._p.aad)
        return self._enc

    def update(self, data: bytes) -> bytes:
        return self._stream().update(data)

    def update_length(self, n: int) -> int:
        """Output length of ``update`` on ``n`` bytes, known in advance (token/crypto.py:
        a C_EncryptUpdate size query then feeds nothing): GCM streams."""
        return n

    def final(self) -> bytes:
        enc = self._stream()
        return enc.finalize() + enc.tag[: self._tag_len]

    def oneshot(self, data: Any) -> bytes:
        if self._enc is not None:
            return self.update(data) + self.final()
        p = self._p
        out = self._aead.encrypt(p.iv, data, p.aad or None)
        if self._tag_len != BLOCK:          # a truncated tag is the full tag's prefix
            out = out[: len(out) - BLOCK + self._tag_len]
        return out

    def oneshot_into(self, data: Any, out: Any) -> int | None:
        """Single-part encryption written straight into the caller's buffer ``out``
        (writable, ``len(out)`` = its capacity); None when this cannot be done (then the
        core falls back to ``oneshot`` and the two-call convention)."""
        n = len(data) + BLOCK
        if self._enc is not None or self._tag_len != BLOCK or len(out) < n:
            return None
        self._aead.encrypt_into(self._p.iv, data, self._p.aad or None, memoryview(out)[:n])
        return n


class GcmDecrypt(CollectingOperation):
    """Buffered GCM decryption: nothing is released before the tag is verified."""

    def __init__(self, key: KeyMaterial, p: GcmParams) -> None:
        self._alg, self._p = _algorithm(key), p
        self._key = key
        self._tag_len = p.tag_bits // 8
        self._buf = bytearray()

    def oneshot(self, data: Any) -> bytes:
        if self._buf or self._tag_len != BLOCK:   # pyca's AESGCM takes full tags only
            self.update(data)
            return self.final()
        if len(data) < BLOCK:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "shorter than the tag")
        try:
            return self._key.parsed(_aesgcm).decrypt(self._p.iv, data, self._p.aad or None)
        except InvalidTag:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "GCM tag mismatch") from None

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


class _Context(Protocol):
    """What pyca's cipher and padding contexts have in common."""

    def update(self, data: bytes, /) -> bytes: ...

    def finalize(self) -> bytes: ...


class _CbcPad(Operation):
    """CBC + PKCS #7 as two pyca contexts in a row: encryption pads then encrypts,
    decryption decrypts then unpads (pyca's unpadder holds back the last block until
    final); ``update`` and ``final`` run the pipe the same way in both directions."""

    def __init__(self, first: _Context, second: _Context) -> None:
        self._first, self._second = first, second
        self._total = 0

    def update(self, data: bytes) -> bytes:
        self._total += len(data)
        return self._second.update(self._first.update(data))

    def final(self) -> bytes:
        return self._second.update(self._first.finalize()) + self._second.finalize()


class CbcPadEncrypt(_CbcPad):
    """CBC + PKCS #7 encryption, streaming whole blocks."""

    def __init__(self, key: KeyMaterial, iv: bytes) -> None:
        encryptor = Cipher(_algorithm(key), modes.CBC(iv)).encryptor()
        super().__init__(padding.PKCS7(BLOCK * 8).padder(), encryptor)

    def update_length(self, n: int) -> int:
        """Whole blocks of the input so far, minus those already returned."""
        return _blocks(self._total + n) - _blocks(self._total)


class CbcPadDecrypt(_CbcPad):
    """CBC + PKCS #7 decryption; the padding is checked in final."""

    def __init__(self, key: KeyMaterial, iv: bytes) -> None:
        decryptor = Cipher(_algorithm(key), modes.CBC(iv)).decryptor()
        super().__init__(decryptor, padding.PKCS7(BLOCK * 8).unpadder())

    def update_length(self, n: int) -> int:
        """The decryptor's whole blocks less the last one, which the unpadder holds back."""
        def released(total: int) -> int:
            return max(_blocks(total) - BLOCK, 0)
        return released(self._total + n) - released(self._total)

    def final(self) -> bytes:
        if self._total == 0 or self._total % BLOCK:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "not a positive multiple of 16 bytes")
        try:
            return super().final()
        except ValueError:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "bad padding") from None


def _blocks(total: int) -> int:
    """Bytes in the whole blocks of ``total`` bytes."""
    return total - total % BLOCK


#: OpKind -> True when it encrypts (WRAP encrypts the key image, UNWRAP decrypts it).
_ENCRYPTS = {OpKind.ENCRYPT: True, OpKind.WRAP: True, OpKind.DECRYPT: False, OpKind.UNWRAP: False}


def _direction(mech: int, kind: OpKind, key: KeyMaterial | None) -> tuple[KeyMaterial, bool]:
    """The key (KEY_NEEDED without one) and whether ``kind`` encrypts."""
    return key_for(mech, kind, _ENCRYPTS, key), _ENCRYPTS[kind]


class BlockNoPad(Operation):
    """ECB / CBC without padding: pyca keeps partial blocks; final checks the total."""

    def __init__(self, key: KeyMaterial, mode: modes.ECB | modes.CBC, encrypt: bool) -> None:
        c = Cipher(_algorithm(key), mode)
        self._ctx = c.encryptor() if encrypt else c.decryptor()
        self._err = CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE
        self._total = 0

    def update(self, data: bytes) -> bytes:
        self._total += len(data)
        return self._ctx.update(data)

    def update_length(self, n: int) -> int:
        return _blocks(self._total + n) - _blocks(self._total)

    def final(self) -> bytes:
        if self._total % BLOCK:
            raise CKRError(self._err, "not a multiple of 16 bytes")
        return self._ctx.finalize()


class Ctr(Operation):
    """CTR: a stream; refuses input that would wrap the counter field."""

    def __init__(self, key: KeyMaterial, p: CtrParams, encrypt: bool) -> None:
        self._ctx = Cipher(_algorithm(key), modes.CTR(p.cb)).encryptor()
        counter = int.from_bytes(p.cb, "big") & ((1 << p.counter_bits) - 1)
        self._max_bytes = ((1 << p.counter_bits) - counter) * BLOCK
        self._err = CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE
        self._total = 0

    def update(self, data: bytes) -> bytes:
        if self._total + len(data) > self._max_bytes:
            raise CKRError(self._err, "the CTR counter field would wrap")
        self._total += len(data)
        return self._ctx.update(data)

    def update_length(self, n: int) -> int:
        return n

    def final(self) -> bytes:
        return self._ctx.finalize()


def _ecb(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key, encrypt = _direction(CKM.AES_ECB, kind, key)
    return BlockNoPad(key, modes.ECB(), encrypt)


def _cbc(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key, encrypt = _direction(CKM.AES_CBC, kind, key)
    if not isinstance(param, bytes) or len(param) != BLOCK:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CBC IV must be 16 bytes")
    return BlockNoPad(key, modes.CBC(param), encrypt)


def _ctr(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key, encrypt = _direction(CKM.AES_CTR, kind, key)
    if not isinstance(param, CtrParams) or len(param.cb) != BLOCK:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_AES_CTR_PARAMS required")
    if not 0 < param.counter_bits <= 128:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "ulCounterBits must be 1..128")
    return Ctr(key, param, encrypt)


_AES_GCM = int(CKM.AES_GCM)


def _check_gcm(iv: bytes, tag_bits: int) -> None:
    """The IV and tag lengths GCM takes here (module docstring), for CK_GCM_PARAMS and
    CK_GCM_MESSAGE_PARAMS alike; else MECHANISM_PARAM_INVALID."""
    if len(iv) not in GCM_IV_RANGE:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "GCM IV must be 8..128 bytes")
    if tag_bits not in GCM_TAG_BITS:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "GCM tag must be 32, 64 or 96..128 bits")


def _gcm(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key, encrypt = _direction(_AES_GCM, kind, key)
    if not isinstance(param, GcmParams):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_GCM_PARAMS required")
    _check_gcm(param.iv, param.tag_bits)
    return (GcmEncrypt if encrypt else GcmDecrypt)(key, param)


def _cbc_pad(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key, encrypt = _direction(CKM.AES_CBC_PAD, kind, key)
    if not isinstance(param, bytes) or len(param) != BLOCK:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CBC IV must be 16 bytes")
    return (CbcPadEncrypt if encrypt else CbcPadDecrypt)(key, param)


# --- message-based AES-GCM (v3.0 §5.13/§5.14, CK_GCM_MESSAGE_PARAMS) -----------------------
class GcmMessage(MessageOperation):
    """One C_MessageEncryptInit/C_MessageDecryptInit .. Final with an AES key.

    IV generation on encrypt (ivGenerator): CKG_NO_GENERATE uses the caller's IV;
    CKG_GENERATE and CKG_GENERATE_RANDOM keep the leading ``iv_fixed_bits`` of the
    caller's IV and fill the rest from os.urandom; CKG_GENERATE_COUNTER keeps the fixed
    part and puts a counter in the rest, incremented per message -- it starts at a random
    value, since the token cannot keep a per-key counter across operations and restarting
    at zero would repeat IVs; running out of counter values is CKR_DATA_LEN_RANGE.
    CKG_GENERATE_COUNTER_XOR is refused (MECHANISM_PARAM_INVALID). Decrypt uses the IV
    as given. The tag (``tag_bits``) is returned in the output parameter, not appended.
    """

    def __init__(self, key: KeyMaterial, encrypt: bool) -> None:
        self._alg = _algorithm(key)
        self._encrypt = encrypt
        self._counters: dict[tuple[bytes, int], tuple[int | None, int]] = {}

    @staticmethod
    def _check(p: object) -> GcmMessageParams:
        if not isinstance(p, GcmMessageParams):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS required")
        _check_gcm(p.iv, p.tag_bits)
        return p

    def _iv(self, p: GcmMessageParams) -> bytes:
        gen = p.iv_generator
        if gen == G.NO_GENERATE:
            return p.iv
        bits = len(p.iv) * 8
        free = bits - p.iv_fixed_bits
        if not 0 < free <= bits or gen not in (G.GENERATE, G.GENERATE_RANDOM, G.GENERATE_COUNTER):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "unsupported IV generation")
        fixed = int.from_bytes(p.iv, "big") >> free << free
        if gen == G.GENERATE_COUNTER:
            slot = (p.iv, p.iv_fixed_bits)
            if slot not in self._counters:
                start = int.from_bytes(os.urandom((free + 7) // 8), "big") % (1 << free)
                self._counters[slot] = (start, start)
            part, start = self._counters[slot]
            # None marks exhaustion: the counter came back round to its start
            if part is None:
                raise CKRError(CKR.DATA_LEN_RANGE, "IV counter exhausted")
            nxt = (part + 1) % (1 << free)
            self._counters[slot] = (None if nxt == start else nxt, start)
        else:
            part = int.from_bytes(os.urandom((free + 7) // 8), "big") % (1 << free)
        return (fixed | part).to_bytes(len(p.iv), "big")

    def encrypt(self, param: Any, aad: bytes, data: bytes) -> tuple[bytes, Any]:
        if not self._encrypt:
            return super().encrypt(param, aad, data)
        p = self._check(param)
        iv = self._iv(p)
        enc = Cipher(self._alg, modes.GCM(iv)).encryptor()
        enc.authenticate_additional_data(aad)
        ct = enc.update(data) + enc.finalize()
        return ct, replace(p, iv=iv, tag=enc.tag[: p.tag_bits // 8])

    def decrypt(self, param: Any, aad: bytes, data: bytes) -> bytes:
        if self._encrypt:
            return super().decrypt(param, aad, data)
        p = self._check(param)
        tag_len = p.tag_bits // 8
        if len(p.tag) != tag_len:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "pTag length must be ulTagBits / 8")
        dec = Cipher(self._alg, modes.GCM(p.iv, p.tag, min_tag_length=tag_len)).decryptor()
        dec.authenticate_additional_data(aad)
        try:
            return dec.update(data) + dec.finalize()
        except InvalidTag:
            raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "GCM tag mismatch") from None


def _gcm_message(kind: OpKind, key: KeyMaterial, param: object) -> MessageOperation:
    key = key_for(CKM.AES_GCM, kind, (OpKind.ENCRYPT, OpKind.DECRYPT), key)
    return GcmMessage(key, kind is OpKind.ENCRYPT)


def generate(param: object, template: AttrDict) -> AttrDict:
    """CKM_AES_KEY_GEN (§2.10.3): CKA_VALUE_LEN from the template; contributes the value.

    Also returns CKA_CLASS and CKA_KEY_TYPE, which the spec says the mechanism contributes.
    """
    length = template.get(CKA.VALUE_LEN)
    if length is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN missing")
    if length not in AES_KEY_LENGTHS:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be 16, 24 or 32")
    value = os.urandom(length)
    return {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES,
            CKA.VALUE: value, CKA.VALUE_LEN: length, CKA.CHECK_VALUE: aes_check_value(value)}


_MIN, _MAX = min(AES_KEY_LENGTHS), max(AES_KEY_LENGTHS)
register(MechanismEntry(mechanism=CKM.AES_KEY_GEN, flags=F.GENERATE, key_types=frozenset(),
                        generate=generate, gen_key_type=CKK.AES, min_key_size=_MIN, max_key_size=_MAX))
_CIPHER = F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP
register(MechanismEntry(mechanism=CKM.AES_GCM,
                        flags=_CIPHER | F.MESSAGE_ENCRYPT | F.MESSAGE_DECRYPT, key_types=_KEY_TYPES,
                        operation=_gcm, message=_gcm_message, min_key_size=_MIN, max_key_size=_MAX))
for _mech, _operation in ((CKM.AES_CBC_PAD, _cbc_pad), (CKM.AES_ECB, _ecb), (CKM.AES_CBC, _cbc),
                          (CKM.AES_CTR, _ctr)):
    register(MechanismEntry(mechanism=_mech, flags=_CIPHER, key_types=_KEY_TYPES,
                            operation=_operation, min_key_size=_MIN, max_key_size=_MAX))
