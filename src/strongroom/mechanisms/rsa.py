"""RSA PKCS #1 v1.5 (PKCS#11 v3.0 Current Mechanisms §2.1).

* CKM_RSA_PKCS_KEY_PAIR_GEN (§2.1.4): CKA_MODULUS_BITS (required) and CKA_PUBLIC_EXPONENT
  (default 65537) from the public template. Generation is 2048..8192 bits by default;
  the config key rsa_min_generate_bits (>= 1024) lowers the floor for test suites that
  generate 1024-bit keys for speed. 1024-bit keys are always accepted by import.
* CKM_RSA_PKCS (§2.1.6): single-part; sign/verify input ≤ k-11 bytes, encrypt input
  ≤ k-11, decrypt input exactly k.
* CKM_SHA*_RSA_PKCS (§2.1.9), SHA-1/2/3: hash inside, multi-part sign/verify.
* CKM_RSA_PKCS also does C_SignRecover / C_VerifyRecover and C_WrapKey / C_UnwrapKey
  (wrap = encrypt the key image, unwrap = decrypt it).
* CKM_RSA_PKCS_PSS (§2.1.10): single-part over a hash whose length must be hashAlg's;
  CKM_SHA*_RSA_PKCS_PSS (§2.1.11), SHA-1/2/3: multi-part, hashAlg must be the
  mechanism's hash. CK_RSA_PKCS_PSS_PARAMS: any SHA-1/2/3 hashAlg, any MGF1 hash (the
  spec lets it differ from hashAlg), 0 <= sLen <= emLen - hLen - 2; verification demands
  exactly sLen.
* CKM_RSA_PKCS_OAEP (§2.1.8): encrypt/decrypt/wrap/unwrap with CK_RSA_PKCS_OAEP_PARAMS:
  any SHA-1/SHA-2 hash and MGF1 hash (pyca refuses SHA-3 in OAEP, so SHA-3 there is
  CKR_MECHANISM_PARAM_INVALID), source CKZ_DATA_SPECIFIED with the label (source 0
  with no label is accepted too, as several clients send it).

Not registered: CKM_RSA_X_509 (raw RSA). pyca/cryptography exposes no unpadded RSA
private or public operation (its paddings are PKCS1v15, OAEP and PSS only), and the
RSA primitive must not be written by hand here.

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
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKZ
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from ..pkcs11.params import RsaOaepParams, RsaPssParams
from . import pkhash
from .keys import RSA_MAX_BITS, RSA_MIN_BITS, AttrDict, load_public, public_key_info
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register
from .rsa_key import load_private, private_attrs

if TYPE_CHECKING:
    from .registry import OperationFactory

_KEY_TYPES = frozenset({CKK.RSA})
_SIGN_RECOVER = OpKind.SIGN_RECOVER
_VERIFY_RECOVER = OpKind.VERIFY_RECOVER
_WRAP = OpKind.WRAP
_UNWRAP = OpKind.UNWRAP
_PRIVATE_KINDS = frozenset({OpKind.SIGN, OpKind.DECRYPT, _SIGN_RECOVER, _UNWRAP})
_ENCRYPTING = frozenset({OpKind.ENCRYPT, _WRAP})
_DECRYPTING = frozenset({OpKind.DECRYPT, _UNWRAP})
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
    for prefix, cls in DIGEST_INFO.items():
        if data.startswith(prefix):
            h = cls()   # an instance: on the class digest_size is a property
            if len(data) == len(prefix) + h.digest_size:
                return h, data[len(prefix):]
    return None


class _RsaKeyed(Operation):
    """An RSA operation's pyca key: ``_private`` for the private kinds (sign, decrypt and
    their recover / unwrap twins), ``_public`` for the others -- only that one is set --
    and ``_k``, the modulus length in bytes."""

    _private: rsa.RSAPrivateKey
    _public: rsa.RSAPublicKey
    _k: int

    def _bind(self, key: KeyMaterial, private: bool) -> int:
        """Set the key of the kind; returns its size in bits."""
        if private:
            self._private = key.parsed(load_private)
            bits = self._private.key_size
        else:
            self._public = key.parsed(load_public)   # the public half of a private key too
            bits = self._public.key_size
        self._k = (bits + 7) // 8
        return bits


class _HashOrCollect(_RsaKeyed):
    """Hash-and-sign variants hash as data arrives; the raw variants (a DigestInfo or a
    pre-computed hash, single-part) collect it. Subclasses set ``_hash`` and ``_data``."""

    _hash: hashes.Hash | None
    _data: bytearray

    def update(self, data: bytes) -> bytes:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._data += data
        return b""


class RsaPkcsOperation(_HashOrCollect):
    """One CKM_RSA_PKCS or CKM_SHA*_RSA_PKCS operation (see module docstring)."""

    def __init__(self, kind: OpKind, key: KeyMaterial, hash_cls: type[hashes.HashAlgorithm] | None) -> None:
        self._kind = kind
        self._bind(key, kind in _PRIVATE_KINDS)
        self._hash = hashes.Hash(hash_cls()) if hash_cls else None
        self.multipart = hash_cls is not None
        self._data = bytearray()


    def _raw_input(self) -> bytes:
        data = bytes(self._data)
        if len(data) > self._k - PAD_OVERHEAD:
            raise CKRError(CKR.DATA_LEN_RANGE, "input longer than k-11 bytes")
        return data

    def final(self) -> bytes:
        if self._kind in (OpKind.SIGN, _SIGN_RECOVER):
            return self._sign()
        if self._kind is _VERIFY_RECOVER:
            return self._recover()
        if self._kind in _ENCRYPTING:
            return self._public.encrypt(self._raw_input(), padding.PKCS1v15())
        if self._kind in _DECRYPTING:
            if len(self._data) != self._k:
                raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "ciphertext must be k bytes")
            try:
                return self._private.decrypt(bytes(self._data), padding.PKCS1v15())
            except ValueError:
                raise CKRError(CKR.ENCRYPTED_DATA_INVALID) from None
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")

    def _sign(self) -> bytes:
        if self._hash is not None:
            digest, algorithm = self._hash.finalize(), self._hash.algorithm
        else:
            found = split_digest_info(self._raw_input())
            if found is None:
                raise CKRError(CKR.DATA_INVALID, "raw RSA signing needs a DigestInfo of a known hash")
            algorithm, digest = found
        return self._private.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))

    def _recover(self) -> bytes:
        """C_VerifyRecover: the data is the signature; return what was signed."""
        signature = bytes(self._data)
        if len(signature) != self._k:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "signature must be k bytes")
        try:
            return self._public.recover_data_from_signature(signature, padding.PKCS1v15(), None)
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        if len(signature) != self._k:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "signature must be k bytes")
        try:
            if self._hash is not None:
                self._public.verify(signature, self._hash.finalize(), padding.PKCS1v15(),
                                    Prehashed(self._hash.algorithm))
                return
            data = self._raw_input()
            recovered = self._public.recover_data_from_signature(signature, padding.PKCS1v15(), None)
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None
        if not hmac.compare_digest(recovered, data):
            raise CKRError(CKR.SIGNATURE_INVALID)


def _param_invalid(why: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, why)


def _hash_of(mech: int, what: str) -> hashes.HashAlgorithm:
    cls = pkhash.BY_CKM.get(mech)
    if cls is None:
        raise _param_invalid(f"{what}: unsupported hash 0x{mech:x}")
    return cls()


def _mgf(mgf: int) -> padding.MGF1:
    cls = pkhash.MGF1.get(mgf)
    if cls is None:
        raise _param_invalid(f"unsupported MGF 0x{mgf:x}")
    return padding.MGF1(cls())


@dataclass(frozen=True)
class _PssSpec:
    """A checked CK_RSA_PKCS_PSS_PARAMS."""

    hash: hashes.HashAlgorithm
    padding: padding.PSS


def _pss_spec(param: object, key_bits: int, hash_cls: type[hashes.HashAlgorithm] | None) -> _PssSpec:
    if not isinstance(param, RsaPssParams):
        raise _param_invalid("CK_RSA_PKCS_PSS_PARAMS required")
    h = _hash_of(param.hash_alg, "hashAlg")
    if hash_cls is not None and type(h) is not hash_cls:
        raise _param_invalid("hashAlg must be the mechanism's hash")
    em_len = (key_bits - 1 + 7) // 8            # RFC 8017 §9.1.1: emLen = ceil((modBits-1)/8)
    if not 0 <= param.salt_len <= em_len - h.digest_size - 2:
        raise _param_invalid("sLen out of range for this key and hash")
    return _PssSpec(h, padding.PSS(mgf=_mgf(param.mgf), salt_length=param.salt_len))


class RsaPssOperation(_HashOrCollect):
    """CKM_RSA_PKCS_PSS (``hash_cls`` None: input is the hash) or CKM_SHA*_RSA_PKCS_PSS."""

    def __init__(self, kind: OpKind, key: KeyMaterial, hash_cls: type[hashes.HashAlgorithm] | None,
                 param: object) -> None:
        self._kind = kind
        bits = self._bind(key, kind is OpKind.SIGN)
        self._spec = _pss_spec(param, bits, hash_cls)
        self.multipart = hash_cls is not None
        self._hash = hashes.Hash(self._spec.hash) if hash_cls else None
        self._data = bytearray()


    def _digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.finalize()
        if len(self._data) != self._spec.hash.digest_size:
            raise CKRError(CKR.DATA_LEN_RANGE, "CKM_RSA_PKCS_PSS input must be a hashAlg digest")
        return bytes(self._data)

    def final(self) -> bytes:
        if self._kind is not OpKind.SIGN:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a sign operation")
        return self._private.sign(self._digest(), self._spec.padding, Prehashed(self._spec.hash))

    def verify(self, signature: bytes) -> None:
        if self._kind is not OpKind.VERIFY:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "not a verify operation")
        digest = self._digest()
        if len(signature) != self._k:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, "signature must be k bytes")
        try:
            self._public.verify(signature, digest, self._spec.padding, Prehashed(self._spec.hash))
        except InvalidSignature:
            raise CKRError(CKR.SIGNATURE_INVALID) from None


_SHA3 = (hashes.SHA3_224, hashes.SHA3_256, hashes.SHA3_384, hashes.SHA3_512)


def oaep_padding(param: object) -> padding.OAEP:
    """A checked CK_RSA_PKCS_OAEP_PARAMS as pyca's OAEP padding."""
    if not isinstance(param, RsaOaepParams):
        raise _param_invalid("CK_RSA_PKCS_OAEP_PARAMS required")
    h = _hash_of(param.hash_alg, "hashAlg")
    mgf = _mgf(param.mgf)
    if isinstance(h, _SHA3) or pkhash.MGF1.get(param.mgf) in _SHA3:
        raise _param_invalid("OAEP with SHA-3 is not available (pyca/cryptography allows SHA-1/SHA-2 only)")
    if param.source == 0 and param.source_data:
        raise _param_invalid("a label needs source CKZ_DATA_SPECIFIED")
    if param.source not in (0, CKZ.DATA_SPECIFIED):
        raise _param_invalid("source must be CKZ_DATA_SPECIFIED")
    return padding.OAEP(mgf=mgf, algorithm=h, label=param.source_data or None)


class RsaOaepOperation(_RsaKeyed):
    """CKM_RSA_PKCS_OAEP: single-part encrypt/wrap (public) and decrypt/unwrap (private)."""

    multipart = False

    def __init__(self, kind: OpKind, key: KeyMaterial, param: object) -> None:
        self._padding = oaep_padding(param)
        self._decrypt = kind in _DECRYPTING
        self._bind(key, self._decrypt)
        self._data = bytearray()

    def update(self, data: bytes) -> bytes:
        self._data += data
        return b""

    def final(self) -> bytes:
        data = bytes(self._data)
        if self._decrypt:
            if len(data) != self._k:
                raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "ciphertext must be k bytes")
            try:
                return self._private.decrypt(data, self._padding)
            except ValueError:
                raise CKRError(CKR.ENCRYPTED_DATA_INVALID) from None
        h_len = self._padding.algorithm.digest_size
        if len(data) > self._k - 2 * h_len - 2:
            raise CKRError(CKR.DATA_LEN_RANGE, "OAEP input longer than k - 2hLen - 2")
        return self._public.encrypt(data, self._padding)


def _exponent(pub: AttrDict) -> int:
    value = pub.get(CKA.PUBLIC_EXPONENT)
    if value is None:
        return DEFAULT_EXPONENT
    e = int.from_bytes(value, "big") if isinstance(value, bytes) else -1
    if e not in (3, DEFAULT_EXPONENT):   # all pyca will generate with
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_EXPONENT must be 65537 (or 3)")
    return e


def generate_pair(param: object, pub: AttrDict, priv: AttrDict) -> tuple[AttrDict, AttrDict]:
    """CKM_RSA_PKCS_KEY_PAIR_GEN: attributes the mechanism contributes to each half.

    Public: CKA_CLASS, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT; private: those
    plus every private component (§2.1.4); both: CKA_PUBLIC_KEY_INFO (DER SPKI).
    """
    bits = pub.get(CKA.MODULUS_BITS)
    if bits is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_MODULUS_BITS missing from public template")
    # The mechanism can make 1024..8192 bits; the token's policy floor (config
    # rsa_min_generate_bits, default 2048) is applied by the core before this runs.
    if not isinstance(bits, int) or not RSA_MIN_BITS <= bits <= RSA_MAX_BITS:
        raise CKRError(CKR.KEY_SIZE_RANGE, f"RSA key generation supports {RSA_MIN_BITS}..{RSA_MAX_BITS} bits")
    e = _exponent(pub)
    given = priv.get(CKA.PUBLIC_EXPONENT)
    if given is not None and (not isinstance(given, bytes) or int.from_bytes(given, "big") != e):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_PUBLIC_EXPONENT differs between templates")
    key = rsa.generate_private_key(e, bits)
    info = public_key_info(key.public_key())
    private = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA, **private_attrs(key), CKA.PUBLIC_KEY_INFO: info}
    public: AttrDict = {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: private[CKA.MODULUS],
                        CKA.PUBLIC_EXPONENT: private[CKA.PUBLIC_EXPONENT], CKA.PUBLIC_KEY_INFO: info}
    return public, private


def _factory(mech: int, hash_cls: type[hashes.HashAlgorithm] | None, kinds: frozenset[OpKind]) -> OperationFactory:
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        key = key_for(mech, kind, kinds, key)
        return RsaPkcsOperation(kind, key, hash_cls)

    return operation


def _pss_factory(mech: int, hash_cls: type[hashes.HashAlgorithm] | None) -> OperationFactory:
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        key = key_for(mech, kind, (OpKind.SIGN, OpKind.VERIFY), key)
        return RsaPssOperation(kind, key, hash_cls, param)

    return operation


def _oaep_operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
    key = key_for(CKM.RSA_PKCS_OAEP, kind, _ENCRYPTING | _DECRYPTING, key)
    return RsaOaepOperation(kind, key, param)


def _flags(kinds: frozenset[OpKind]) -> int:
    bits = {OpKind.ENCRYPT: F.ENCRYPT, OpKind.DECRYPT: F.DECRYPT, OpKind.SIGN: F.SIGN,
            OpKind.VERIFY: F.VERIFY, _SIGN_RECOVER: F.SIGN_RECOVER,
            _VERIFY_RECOVER: F.VERIFY_RECOVER, _WRAP: F.WRAP, _UNWRAP: F.UNWRAP}
    out = 0
    for kind in kinds:
        out |= bits[kind]
    return out


register(MechanismEntry(
    mechanism=CKM.RSA_PKCS_KEY_PAIR_GEN, flags=F.GENERATE_KEY_PAIR,
    min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS,   # the core reports the policy floor
    key_types=frozenset(), generate_pair=generate_pair, gen_key_type=CKK.RSA,
))
_PKCS_KINDS = frozenset({OpKind.ENCRYPT, OpKind.DECRYPT, OpKind.SIGN, OpKind.VERIFY,
                         _SIGN_RECOVER, _VERIFY_RECOVER, _WRAP, _UNWRAP})
register(MechanismEntry(
    mechanism=CKM.RSA_PKCS, flags=_flags(_PKCS_KINDS),
    min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS, key_types=_KEY_TYPES,
    operation=_factory(CKM.RSA_PKCS, None, _PKCS_KINDS),
))
_SIGN_VERIFY = frozenset({OpKind.SIGN, OpKind.VERIFY})


def _register_signing(mech: int, operation: OperationFactory) -> None:
    register(MechanismEntry(
        mechanism=mech, flags=F.SIGN | F.VERIFY,
        min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS, key_types=_KEY_TYPES, operation=operation,
    ))


_register_signing(CKM.RSA_PKCS_PSS, _pss_factory(CKM.RSA_PKCS_PSS, None))
for _hash, _pkcs, _pss in (   # hash, its CKM_<hash>_RSA_PKCS and CKM_<hash>_RSA_PKCS_PSS
    (CKM.SHA_1, CKM.SHA1_RSA_PKCS, CKM.SHA1_RSA_PKCS_PSS),
    (CKM.SHA224, CKM.SHA224_RSA_PKCS, CKM.SHA224_RSA_PKCS_PSS),
    (CKM.SHA256, CKM.SHA256_RSA_PKCS, CKM.SHA256_RSA_PKCS_PSS),
    (CKM.SHA384, CKM.SHA384_RSA_PKCS, CKM.SHA384_RSA_PKCS_PSS),
    (CKM.SHA512, CKM.SHA512_RSA_PKCS, CKM.SHA512_RSA_PKCS_PSS),
    (CKM.SHA3_224, CKM.SHA3_224_RSA_PKCS, CKM.SHA3_224_RSA_PKCS_PSS),
    (CKM.SHA3_256, CKM.SHA3_256_RSA_PKCS, CKM.SHA3_256_RSA_PKCS_PSS),
    (CKM.SHA3_384, CKM.SHA3_384_RSA_PKCS, CKM.SHA3_384_RSA_PKCS_PSS),
    (CKM.SHA3_512, CKM.SHA3_512_RSA_PKCS, CKM.SHA3_512_RSA_PKCS_PSS),
):
    _register_signing(_pkcs, _factory(_pkcs, pkhash.BY_CKM[_hash], _SIGN_VERIFY))
    _register_signing(_pss, _pss_factory(_pss, pkhash.BY_CKM[_hash]))
register(MechanismEntry(
    mechanism=CKM.RSA_PKCS_OAEP, flags=_flags(_ENCRYPTING | _DECRYPTING),
    min_key_size=RSA_MIN_BITS, max_key_size=RSA_MAX_BITS, key_types=_KEY_TYPES,
    operation=_oaep_operation,
))
