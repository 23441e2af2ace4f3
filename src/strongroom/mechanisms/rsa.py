"""RSA PKCS #1 v1.5 (PKCS#11 v3.0 Current Mechanisms §2.1).

* CKM_RSA_PKCS_KEY_PAIR_GEN (§2.1.4): CKA_MODULUS_BITS (required) and CKA_PUBLIC_EXPONENT
  (default 65537) from the public template. Generation is 2048..8192 bits; 1024-bit keys
  are accepted only by import, for verification and legacy use.
* CKM_RSA_PKCS (§2.1.6): single-part; sign/verify input ≤ k-11 bytes, encrypt input
  ≤ k-11, decrypt input exactly k.
* CKM_SHA*_RSA_PKCS (§2.1.9): hash inside, multi-part sign/verify.

What pyca cannot do: a raw PKCS #1 v1.5 *signature* over arbitrary bytes (pyca only
signs a hash it wraps in a DigestInfo itself, and we must not hand-roll the RSA
primitive). So raw CKM_RSA_PKCS signing accepts a DigestInfo for a known hash — what
TLS stacks, OpenSSL's pkcs11-provider and aws-c-io send — byte-exactly in the RFC 8017
§9.2 form, and signs the hash with ``Prehashed``; the result is the same signature a raw
RSA operation would give. Any other input is CKR_DATA_INVALID. Raw *verification* has
no such limit: ``recover_data_from_signature(..., None)`` returns the signed bytes.

PKCS #1 v1.5 decryption uses OpenSSL's implicit rejection (Marvin attack defence): a
ciphertext with bad padding decrypts to a deterministic random-looking message instead
of failing, so CKR_ENCRYPTED_DATA_INVALID is not reported for bad padding. This is
deliberate: the error itself is the padding oracle.
"""
from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR, MechanismFlag as F
from ..pkcs11.errors import CKRError
from .digest import HASHES
from .keys import (
    RSA_GEN_MIN_BITS, RSA_MAX_BITS, RSA_MIN_BITS, int_bytes, load_private, load_public, public_key_info,
)
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, register, unsupported_kind

_KEY_TYPES = frozenset({CKK.RSA})
PAD_OVERHEAD = 11                    # PKCS #1 v1.5: k - 11 bytes of payload at most
DEFAULT_EXPONENT = 65537

#: DER DigestInfo prefix (RFC 8017 §9.2 note 1) -> hash; the digest follows the prefix.
DIGEST_INFO: dict[bytes, type[hashes.HashAlgorithm]] = {
    bytes.fromhex(prefix): h for prefix, h in (
        ("3021300906052b0e03021a05000414", hashes.SHA1),
        ("302d300d06096086480165030402040500041c", hashes.SHA224),
        ("3031300d060960864801650304020105000420", hashes.SHA256),
        ("3041300d060960864801650304020205000430", hashes.SHA384),
        ("3051300d060960864801650304020305000440", hashes.SHA512),
        ("302d300d06096086480165030402050500041c", hashes.SHA512_224),
        ("3031300d060960864801650304020605000420", hashes.SHA512_256),
        ("302d300d06096086480165030402070500041c", hashes.SHA3_224),
        ("3031300d060960864801650304020805000420", hashes.SHA3_256),
        ("3041300d060960864801650304020905000430", hashes.SHA3_384),
        ("3051300d060960864801650304020a05000440", hashes.SHA3_512),
    )
}


def split_digest_info(data: bytes) -> tuple[hashes.HashAlgorithm, bytes] | None:
    """(hash, digest) when ``data`` is exactly a DigestInfo we know, else None."""
    for prefix, h in DIGEST_INFO.items():
        if data.startswith(prefix) and len(data) == len(prefix) + h.digest_size:
            return h(), data[len(prefix):]
    return None


class RsaPkcsOperation(Operation):
    """One CKM_RSA_PKCS or CKM_SHA*_RSA_PKCS operation (see module docstring)."""

    def __init__(self, kind: OpKind, key: KeyMaterial, hash_cls: type | None) -> None:
        self._kind = kind
        private = kind in (OpKind.SIGN, OpKind.DECRYPT)
        self._key = key.parsed(load_private if private else load_public)
        self._k = (self._key.key_size + 7) // 8
        self._hash_cls = hash_cls
        self._hash = hashes.Hash(hash_cls()) if hash_cls else None
        self.multipart = hash_cls is not None
        self._data = bytearray()

    def update(self, data: bytes) -> bytes:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._data += data
        return b""

    def _raw_input(self) -> bytes:
        data = bytes(self._data)
        if len(data) > self._k - PAD_OVERHEAD:
            raise CKRError(CKR.DATA_LEN_RANGE, "input longer than k-11 bytes")
        return data

    def final(self) -> bytes:
        if self._kind is OpKind.SIGN:
            return self._sign()
        if self._kind is OpKind.ENCRYPT:
            return self._key.encrypt(self._raw_input(), padding.PKCS1v15())
        if self._kind is OpKind.DECRYPT:
            if len(self._data) != self._k:
                raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "ciphertext must be k bytes")
            try:
                return self._key.decrypt(bytes(self._data), padding.PKCS1v15())
            except ValueError:
                raise CKRError(CKR.ENCRYPTED_DATA_INVALID) from None
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")

    def _sign(self) -> bytes:
        if self._hash is not None:
            digest, algorithm = self._hash.finalize(), self._hash_cls()
        else:
            found = split_digest_info(self._raw_input())
            if found is None:
                raise CKRError(CKR.DATA_INVALID, "raw RSA signing needs a DigestInfo of a known hash")
            algorithm, digest = found
        return self._key.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        if len(signature) != self._k:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "signature must be k bytes")
        try:
            if self._hash is not None:
                self._key.verify(signature, self._hash.finalize(), padding.PKCS1v15(),
                                 Prehashed(self._hash_cls()))
                return
            data = self._raw_input()
            recovered = self._key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None
        if not hmac.compare_digest(recovered, data):
            raise CKRError(CKR.SIGNATURE_INVALID)


def _exponent(pub: dict) -> int:
    value = pub.get(CKA.PUBLIC_EXPONENT)
    if value is None:
        return DEFAULT_EXPONENT
    e = int.from_bytes(value, "big") if isinstance(value, bytes) else -1
    if e not in (3, DEFAULT_EXPONENT):   # all pyca will generate with
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_EXPONENT must be 65537 (or 3)")
    return e


def generate_pair(param: object, pub: dict, priv: dict) -> tuple[dict, dict]:
    """CKM_RSA_PKCS_KEY_PAIR_GEN: attributes the mechanism contributes to each half.

    Public: CKA_CLASS, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT; private: those
    plus every private component (§2.1.4); both: CKA_PUBLIC_KEY_INFO (DER SPKI).
    """
    bits = pub.get(CKA.MODULUS_BITS)
    if bits is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_MODULUS_BITS missing from public template")
    if not isinstance(bits, int) or not RSA_GEN_MIN_BITS <= bits <= RSA_MAX_BITS:
        raise CKRError(CKR.KEY_SIZE_RANGE, "RSA key generation supports 2048..8192 bits")
    e = _exponent(pub)
    given = priv.get(CKA.PUBLIC_EXPONENT)
    if given is not None and (not isinstance(given, bytes) or int.from_bytes(given, "big") != e):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_PUBLIC_EXPONENT differs between templates")
    key = rsa.generate_private_key(e, bits)
    numbers = key.private_numbers()
    n, e_bytes = int_bytes(numbers.public_numbers.n), int_bytes(e)
    info = public_key_info(key.public_key())
    public = {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: n,
              CKA.PUBLIC_EXPONENT: e_bytes, CKA.PUBLIC_KEY_INFO: info}
    private = {
        CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: n,
        CKA.PUBLIC_EXPONENT: e_bytes, CKA.PRIVATE_EXPONENT: int_bytes(numbers.d),
        CKA.PRIME_1: int_bytes(numbers.p), CKA.PRIME_2: int_bytes(numbers.q),
        CKA.EXPONENT_1: int_bytes(numbers.dmp1), CKA.EXPONENT_2: int_bytes(numbers.dmq1),
        CKA.COEFFICIENT: int_bytes(numbers.iqmp), CKA.PUBLIC_KEY_INFO: info,
    }
    return public, private


def _factory(mech: int, hash_cls: type | None, kinds: tuple[OpKind, ...]):
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        if kind not in kinds:
            raise unsupported_kind(mech, kind)
        if key is None:
            raise CKRError(CKR.KEY_NEEDED)
        return RsaPkcsOperation(kind, key, hash_cls)

    return operation


register(MechanismEntry(
    mechanism=CKM.RSA_PKCS_KEY_PAIR_GEN, flags=F.GENERATE_KEY_PAIR,
    min_key_size=RSA_GEN_MIN_BITS, max_key_size=RSA_MAX_BITS,
    key_types=frozenset(), param_type=None, generate_pair=generate_pair, gen_key_type=CKK.RSA,
))
_ALL = (OpKind.ENCRYPT, OpKind.DECRYPT, OpKind.SIGN, OpKind.VERIFY)
register(MechanismEntry(
    mechanism=CKM.RSA_PKCS, flags=F.ENCRYPT | F.DECRYPT | F.SIGN | F.VERIFY,
    min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS, key_types=_KEY_TYPES,
    param_type=None, operation=_factory(CKM.RSA_PKCS, None, _ALL),
))
for _mech, _hash in (
    (CKM.SHA1_RSA_PKCS, CKM.SHA_1), (CKM.SHA224_RSA_PKCS, CKM.SHA224),
    (CKM.SHA256_RSA_PKCS, CKM.SHA256), (CKM.SHA384_RSA_PKCS, CKM.SHA384),
    (CKM.SHA512_RSA_PKCS, CKM.SHA512),
):
    register(MechanismEntry(
        mechanism=_mech, flags=F.SIGN | F.VERIFY,
        min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS, key_types=_KEY_TYPES,
        param_type=None, operation=_factory(_mech, HASHES[_hash], (OpKind.SIGN, OpKind.VERIFY)),
    ))
