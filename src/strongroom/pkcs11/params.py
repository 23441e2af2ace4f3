"""Mechanism parameters, as decoded by the ABI from their C structs.

Why dataclasses: the mechanisms layer must never see pointers or lengths, and the
registry compares ``type(param)`` against ``MechanismEntry.param_type`` to return
CKR_MECHANISM_PARAM_INVALID, so each C struct gets exactly one frozen Python type.
Pointer+length pairs become ``bytes`` (a NULL pointer with length 0 is ``b""``);
CK_BBOOL becomes ``bool``; CK_ULONG / CK_MECHANISM_TYPE / CK_OBJECT_HANDLE ``int``.
Field names follow the C members without Hungarian prefixes. Range checks
(IV length, tag bits, salt length ...) belong to the mechanism, not here.
"""
from __future__ import annotations

from dataclasses import dataclass

from .constants import CKD, CKZ, HedgeType, HkdfSaltFlag


@dataclass(frozen=True)
class GcmParams:
    """CK_GCM_PARAMS (CKM_AES_GCM).

    ``iv_bits`` is carried as given: v2.40 headers lacked ulIvBits and callers set
    it inconsistently, so the mechanism decides whether to trust it (it uses len(iv)).
    """

    iv: bytes
    iv_bits: int
    aad: bytes
    tag_bits: int


@dataclass(frozen=True)
class CcmParams:
    """CK_CCM_PARAMS (CKM_AES_CCM): total data length must be known up front."""

    data_len: int
    nonce: bytes
    aad: bytes
    mac_len: int


@dataclass(frozen=True)
class ChaCha20Poly1305Params:
    """CK_SALSA20_CHACHA20_POLY1305_PARAMS (CKM_CHACHA20_POLY1305)."""

    nonce: bytes
    aad: bytes


@dataclass(frozen=True)
class RsaPssParams:
    """CK_RSA_PKCS_PSS_PARAMS (CKM_RSA_PKCS_PSS, CKM_SHA*_RSA_PKCS_PSS).

    ``hash_alg`` is a CKM digest, ``mgf`` a CKG MGF1 value, ``salt_len`` bytes (sLen).
    """

    hash_alg: int
    mgf: int
    salt_len: int


@dataclass(frozen=True)
class RsaOaepParams:
    """CK_RSA_PKCS_OAEP_PARAMS (CKM_RSA_PKCS_OAEP).

    ``source`` is CKZ_DATA_SPECIFIED or 0 (no label); ``source_data`` is the label.
    """

    hash_alg: int
    mgf: int
    source: int = CKZ.DATA_SPECIFIED
    source_data: bytes = b""


@dataclass(frozen=True)
class EcdhParams:
    """CK_ECDH1_DERIVE_PARAMS (CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE).

    ``public_data`` is the peer's point in whatever form the caller sent (raw or DER
    OCTET STRING; field-notes: accept both) -- the mechanism normalises it.
    """

    kdf: int = CKD.NULL
    shared_data: bytes = b""
    public_data: bytes = b""


@dataclass(frozen=True)
class EddsaParams:
    """CK_EDDSA_PARAMS (CKM_EDDSA): ``ph_flag`` selects Ed25519ph/Ed448ph, ``context`` the
    RFC 8032 context string. No parameter at all means plain Ed25519/Ed448."""

    ph_flag: bool = False
    context: bytes = b""


@dataclass(frozen=True)
class HkdfParams:
    """CK_HKDF_PARAMS (CKM_HKDF_DERIVE, CKM_HKDF_DATA; PKCS#11 3.0).

    ``salt_type`` is one of HkdfSaltFlag NULL/DATA/KEY; with KEY the salt is the
    value of the secret key object ``salt_key`` (a handle the core resolves).
    """

    extract: bool
    expand: bool
    prf_hash_mechanism: int
    salt_type: int = HkdfSaltFlag.NULL
    salt: bytes = b""
    salt_key: int = 0
    info: bytes = b""


@dataclass(frozen=True)
class SignAdditionalContext:
    """CK_SIGN_ADDITIONAL_CONTEXT (CKM_ML_DSA, CKM_SLH_DSA; PKCS#11 3.2)."""

    hedge_variant: int = HedgeType.HEDGE_PREFERRED
    context: bytes = b""


@dataclass(frozen=True)
class HashSignAdditionalContext:
    """CK_HASH_SIGN_ADDITIONAL_CONTEXT (CKM_HASH_ML_DSA, CKM_HASH_SLH_DSA; PKCS#11 3.2)."""

    hedge_variant: int = HedgeType.HEDGE_PREFERRED
    context: bytes = b""
    hash: int = 0


# --- message-based AEAD parameters (PKCS#11 v3.0 §5.13 / §5.14; issue 4) ------------------
#: CK_GENERATOR_FUNCTION values (ivGenerator of CK_GCM_MESSAGE_PARAMS).
CKG_NO_GENERATE = 0
CKG_GENERATE = 1
CKG_GENERATE_COUNTER = 2
CKG_GENERATE_RANDOM = 3
CKG_GENERATE_COUNTER_XOR = 4


@dataclass(frozen=True)
class GcmMessageParams:
    """CK_GCM_MESSAGE_PARAMS: the per-message parameter of C_EncryptMessage /
    C_DecryptMessage with CKM_AES_GCM.

    ``iv`` is the caller's IV buffer content (``len(iv)`` is ulIvLen); with an
    ``iv_generator`` other than CKG_NO_GENERATE the token generates all but the
    ``iv_fixed_bits`` leading bits and returns the whole IV in the output param.
    ``tag`` is the input tag on decrypt; on encrypt the mechanism returns the param with
    ``tag`` (and ``iv``) set, and the ABI writes them back into pTag / pIv.
    """

    iv: bytes
    iv_fixed_bits: int
    iv_generator: int
    tag_bits: int
    tag: bytes = b""


@dataclass(frozen=True)
class ChaCha20Poly1305MessageParams:
    """CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (message-based CKM_CHACHA20_POLY1305):
    ``nonce`` in, ``tag`` (16 bytes) in on decrypt, out on encrypt."""

    nonce: bytes
    tag: bytes = b""


#: Per-message parameter type of each mechanism usable with the message-based API. The
#: ABI decodes pParameter of C_EncryptMessage / C_DecryptMessage with it and writes the
#: output fields of the returned value back (tag, generated IV).
#: Keyed by the numbers, not CKM's members: CKM is built on first use (constants.py) and
#: this module must not build it for C_Initialize (tests/unit/test_constants.py checks them).
MESSAGE_PARAM_TYPES: dict[int, type] = {
    0x1087: GcmMessageParams,                  # CKM_AES_GCM
    0x4021: ChaCha20Poly1305MessageParams,     # CKM_CHACHA20_POLY1305
}


@dataclass(frozen=True)
class CtrParams:
    """CK_AES_CTR_PARAMS (CKM_AES_CTR): ``counter_bits`` low bits of the 16-byte counter
    block ``cb`` are the big-endian counter; the rest is the nonce."""

    counter_bits: int
    cb: bytes


#: CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE / CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE values.
CKZ_SALT_SPECIFIED = 0x1
CKP_PKCS5_PBKD2_HMAC_SHA1 = 0x1
CKP_PKCS5_PBKD2_HMAC_GOSTR3411 = 0x2
CKP_PKCS5_PBKD2_HMAC_SHA224 = 0x3
CKP_PKCS5_PBKD2_HMAC_SHA256 = 0x4
CKP_PKCS5_PBKD2_HMAC_SHA384 = 0x5
CKP_PKCS5_PBKD2_HMAC_SHA512 = 0x6
CKP_PKCS5_PBKD2_HMAC_SHA512_224 = 0x7
CKP_PKCS5_PBKD2_HMAC_SHA512_256 = 0x8


@dataclass(frozen=True)
class Pbkdf2Params:
    """CK_PKCS5_PBKD2_PARAMS2 (CKM_PKCS5_PBKD2, a C_GenerateKey mechanism; v3.0).

    ``salt_source`` is CKZ_SALT_SPECIFIED; ``prf`` a CKP_PKCS5_PBKD2_HMAC_* value;
    ``prf_data`` must be empty for the HMAC PRFs strongroom supports.
    """

    salt_source: int
    salt: bytes
    iterations: int
    prf: int
    password: bytes
    prf_data: bytes = b""
