"""Sealing of attribute values and the blind index.

What is sealed (AES-256-GCM, 12-byte random nonce, associated data
``token uuid ‖ object uid ‖ attribute type as 8 bytes``, so a blob cannot be moved to
another token, object or attribute):

* Private objects (CKA_PRIVATE true): every attribute except CKA_CLASS, CKA_PRIVATE and
  CKA_TOKEN, under a key derived from the token's master key. Without a PIN nothing of
  such an object but its class can be read from the file.
* Public objects: only attributes the schema calls secret (e.g. CKA_VALUE of a secret
  key that was created with CKA_PRIVATE false), under the token's *public seal key*,
  which is stored in the clear in the tokens row. **This protects only against grepping
  the file for key bytes and against swapping blobs; it does not protect against an
  attacker holding the file**, because a public object is usable without login by
  definition and the key to open it must therefore be available without a PIN. Keys
  that need protection at rest must be private objects.

Each private object also carries a sealed *manifest* (the list of its attribute types)
so that deleting a row from the file (say CKA_SENSITIVE) is detected rather than read as
"attribute absent". A whole object can still be rolled back to an older copy by someone
who can write the file; confidentiality does not depend on that.

The blind index: for searchable attributes, ``HMAC-SHA256(index key, type ‖ encoded
value)[:16]``, with the index key derived from the master key (private objects) or the
public seal key (public objects). Find is an index lookup; for private objects the
index reveals only which objects share a value, not the value.

A failed open (wrong key, swapped or edited blob) is a tampered store:
CKRError(GENERAL_ERROR), never a message containing data.
"""
from __future__ import annotations

import os
import struct

from .._records import TYPE_CHECKING

# pyca/cryptography, hashlib and hmac are imported when the first key set is built
# (ObjectKeys), not at C_Initialize: ~15 ms of cold start (docs/performance.md).
from ..pkcs11 import template
from ..pkcs11.constants import CKA, CKO, CKR
from ..pkcs11.errors import CKRError
from ..wipe import zero

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

NONCE_LEN = 12
DIGEST_LEN = 16
SEAL_INFO = b"strongroom attribute seal"
INDEX_INFO = b"strongroom blind index"
MANIFEST_INFO = b"strongroom object manifest"

# Never sealed even in private objects: the core and find need them without a PIN.
ALWAYS_PLAIN = frozenset({CKA.CLASS, CKA.PRIVATE, CKA.TOKEN})

# Indexed beyond schema.SEARCHABLE: usage flags and small public values that applications
# put in find templates, so {CLASS, LABEL, SIGN} is answered wholly by index lookups
# instead of unsealing candidates. Not indexed: properties nobody searches by
# (CKA_MODIFIABLE / COPYABLE / DESTROYABLE, LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE,
# KEY_GEN_MECHANISM). Each index row costs a dirty page in every create's commit
# (docs/performance.md); a template naming them is still answered exactly, by checking
# the candidates the other attributes select.
_EXTRA_INDEXED = frozenset({
    CKA.TRUSTED, CKA.PUBLIC_EXPONENT, CKA.MODULUS_BITS, CKA.VALUE_LEN, CKA.HW_FEATURE_TYPE,
    CKA.CHECK_VALUE, CKA.HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA.HASH_OF_ISSUER_PUBLIC_KEY, CKA.SIGN, CKA.SIGN_RECOVER, CKA.VERIFY, CKA.VERIFY_RECOVER,
    CKA.ENCRYPT, CKA.DECRYPT, CKA.WRAP, CKA.UNWRAP, CKA.DERIVE, CKA.EXTRACTABLE,
    CKA.SENSITIVE, CKA.ALWAYS_AUTHENTICATE, CKA.WRAP_WITH_TRUSTED,
})

# Hard floor under the schema's verdict: these are always treated as secret.
_SECRET_KEY_PARTS = frozenset({CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2,
                               CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT})


def is_secret(obj: Mapping[int, Any], cka: int) -> bool:
    """The schema's verdict (unknown classes: everything), plus the hard floor above."""
    if cka in _SECRET_KEY_PARTS:
        return True
    if cka == CKA.VALUE and obj.get(CKA.CLASS) in (CKO.SECRET_KEY, CKO.PRIVATE_KEY):
        return True
    return template.is_secret(obj, cka)


def must_seal(obj: Mapping[int, Any], cka: int, private: bool) -> bool:
    """Whether attribute ``cka`` of ``obj`` is stored sealed."""
    if cka in ALWAYS_PLAIN:
        return False
    return private or is_secret(obj, cka)


def indexed(cka: int) -> bool:
    """Whether ``cka`` goes into the blind index.

    Deliberately independent of the object: the writer and find must agree on it without
    knowing a candidate's class, and an attribute that is secret in any class (such as
    CKA_VALUE) is never indexed, so no digest of a secret is ever stored."""
    return (template.searchable(cka) or cka in _EXTRA_INDEXED) and cka not in _NEVER_INDEXED


_NEVER_INDEXED = template.SECRET_ANYWHERE | _SECRET_KEY_PARTS | {CKA.VALUE}


def _hkdf(root: bytes | bytearray, info: bytes) -> bytearray:
    """HKDF-SHA256(root, info) into a bytearray (``derive_into``) that ObjectKeys zeroes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    out = bytearray(32)
    HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive_into(root, out)
    return out


def _type8(cka: int) -> bytes:
    return struct.pack(">Q", int(cka))


class _Tampered(CKRError):
    def __init__(self) -> None:
        super().__init__(CKR.GENERAL_ERROR, "stored object failed its integrity check")


class ObjectKeys:
    """Keys derived from one root (a master key or a public seal key) for one token.

    The store keeps the set of a logged-in user's master key only as long as the core
    holds that master key: it is dropped at logout, at the end of the last session and at
    C_Finalize (``Store.forget_keys``), and :meth:`wipe` zeroes the derived keys then.
    ``root`` is kept (by reference: the caller's master-key bytearray) so a cache hit can
    check that it is still the key the set was made from."""

    __slots__ = ("_bad", "_index", "_manifest", "_seal", "_secrets", "_uuid", "root")

    def __init__(self, root: bytes | bytearray, token_uuid: bytes) -> None:
        import hashlib
        import hmac

        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._uuid = token_uuid
        self.root = root
        seal, manifest, index = (_hkdf(root, SEAL_INFO), _hkdf(root, MANIFEST_INFO),
                                 _hkdf(root, INDEX_INFO))
        # pyca and OpenSSL copy the keys into their contexts (freed with OPENSSL_cleanse);
        # our bytearrays are kept until wipe() so that no copy depends on pyca's choice.
        self._secrets = (seal, manifest, index)
        self._seal = AESGCM(seal)
        self._manifest = AESGCM(manifest)
        # copied per digest: cheaper than hmac.new
        self._index = hmac.new(index, digestmod=hashlib.sha256)
        self._bad = (InvalidTag, ValueError)

    def wipe(self) -> None:
        """Zero the derived keys and drop pyca's contexts (OpenSSL frees them with
        EVP_CIPHER_CTX_free / EVP_MAC_CTX_free, which cleanse the key schedules)."""
        for key in self._secrets:
            zero(key)
        self._seal = self._manifest = self._index = None   # type: ignore[assignment]
        self.root = b""

    def seal(self, uid: bytes, cka: int, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        return nonce + self._seal.encrypt(nonce, plain, self._uuid + uid + _type8(cka))

    def unseal(self, uid: bytes, cka: int, blob: bytes) -> bytes:
        try:
            return self._seal.decrypt(blob[:NONCE_LEN], blob[NONCE_LEN:],
                                      self._uuid + uid + _type8(cka))
        except self._bad:
            raise _Tampered() from None

    def digest(self, cka: int, encoded: bytes) -> bytes:
        h = self._index.copy()
        h.update(_type8(cka) + encoded)
        return h.digest()[:DIGEST_LEN]

    def seal_manifest(self, uid: bytes, types: Iterable[int]) -> bytes:
        plain = b"".join(_type8(t) for t in sorted(set(types)))
        nonce = os.urandom(NONCE_LEN)
        return nonce + self._manifest.encrypt(nonce, plain, self._uuid + uid)

    def open_manifest(self, uid: bytes, blob: bytes) -> frozenset[int]:
        try:
            plain = self._manifest.decrypt(blob[:NONCE_LEN], blob[NONCE_LEN:], self._uuid + uid)
        except self._bad:
            raise _Tampered() from None
        return frozenset(struct.unpack(f">{len(plain) // 8}Q", plain))


def tampered() -> CKRError:
    """The error for a store whose content fails an integrity check."""
    return _Tampered()
