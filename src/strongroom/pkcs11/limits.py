"""Limits at the C boundary: the largest length or count the ABI accepts, as data.

Why a table: a C caller states every length itself, and a lying length (``ulValueLen``
= 0xFFFFFFFF over a 4-byte buffer) makes any copy of it read past the caller's memory and
crash the host. The ABI (``abi/marshal.py``, ``abi/params.py``, ``abi/entry.py``) compares
each stated length with the maximum below *before* it reads a byte, and refuses anything
larger at once with the code the spec gives that argument (v2.40 / v3.0 base spec §5.1.6
"All the other Cryptoki function return values"; §4.1.1 "Creating objects", rule 2):

* an attribute value longer than its maximum: CKR_ATTRIBUTE_VALUE_INVALID;
* a mechanism parameter, or a length nested in one: CKR_MECHANISM_PARAM_INVALID;
* a template count beyond any possible template, a random length, a seed: CKR_ARGUMENTS_BAD;
* a PIN longer than ``pin_max_len`` (C_InitToken, C_InitPIN, C_SetPIN): CKR_PIN_LEN_RANGE.

Each maximum is the largest value that attribute or parameter can legally have on this
token (a fixed-size type's size, the largest RSA modulus the token handles, the largest
IV pyca's AES-GCM takes, RFC 8032's context limit ...) or, for values with no such
bound (CKA_VALUE of a data object or certificate, CKA_LABEL ...), the token quota
``quota_bytes`` of the running configuration. A length within the maximum is trusted: a
caller that lies by less than the maximum still overreads its own memory (the spec leaves
that undefined); these checks stop the lies no real buffer could back.

This module is data only (no imports beyond constants); docs/design.md "Limits at the C
boundary" and the README repeat the table for users.
"""
from __future__ import annotations

from .constants import CKA

KIB = 1024
MIB = 1024 * KIB

# --- sizes of the C types (LP64 Linux: CK_ULONG is 8 bytes) -------------------------------
SIZEOF_BBOOL = 1
SIZEOF_ULONG = 8
SIZEOF_DATE = 8                 # CK_DATE: "YYYYMMDD" (or empty)
SIZEOF_ATTRIBUTE = 24           # CK_ATTRIBUTE {type, pValue, ulValueLen}

# --- counts ------------------------------------------------------------------------------
#: Entries in one input template (C_CreateObject, C_CopyObject, C_SetAttributeValue,
#: C_FindObjectsInit, C_Generate*, C_DeriveKey, C_UnwrapKey, C_*capsulateKey), counting the
#: entries of nested CKA_*_TEMPLATE arrays too. The schema knows 158 attribute types and a
#: type may appear once in a meaningful template, so 1024 is 6x any possible template.
MAX_TEMPLATE_COUNT = 1024

#: Entries in one C_GetAttributeValue template. The spec lets a caller repeat a type, so
#: the bound is not the number of types; 4096 is 26x the known types, far beyond any real
#: application, and bounds the call to about 14 ms (about 3 us per entry; 2-core VM).
MAX_GET_COUNT = 4096

#: Nesting of CKA_*_TEMPLATE inside CKA_*_TEMPLATE (the storage codec allows the same).
MAX_TEMPLATE_DEPTH = 4

#: CK_MECHANISM_TYPE entries in a CKA_ALLOWED_MECHANISMS (or HSS type list) value; the
#: token registers about 150 mechanisms, the spec defines about 600.
MAX_MECHANISM_LIST = 1024

# --- attribute values ----------------------------------------------------------------------
RSA_MAX_BITS = 8192             # = mechanisms.keys.RSA_MAX_BITS (tests/abi/test_lying_lengths.py checks)
_RSA_BYTES = RSA_MAX_BITS // 8 + 1   # one more for the leading zero byte some encoders add

#: Largest ``ulValueLen`` per attribute type, for types whose values have a bound of
#: their own. Fixed-size kinds (CK_BBOOL, CK_ULONG, CK_DATE) are filled in by the ABI
#: from ``pkcs11.attributes.ATTRIBUTE_KINDS`` with the sizes above; types not listed and
#: not fixed-size are bounded by the quota (:data:`DEFAULT_VALUE_MAX` when none is
#: configured).
ATTRIBUTE_VALUE_MAX: dict[int, int] = {
    # RSA components (v3.0 §2.1.2/§2.1.3): at most the modulus length.
    CKA.MODULUS: _RSA_BYTES, CKA.PUBLIC_EXPONENT: _RSA_BYTES, CKA.PRIVATE_EXPONENT: _RSA_BYTES,
    CKA.PRIME_1: _RSA_BYTES, CKA.PRIME_2: _RSA_BYTES, CKA.EXPONENT_1: _RSA_BYTES,
    CKA.EXPONENT_2: _RSA_BYTES, CKA.COEFFICIENT: _RSA_BYTES,
    # EC: a named-curve OID or PrintableString is < 40 bytes, explicit ECParameters for a
    # 521-bit curve < 600; a DER OCTET STRING of an uncompressed P-521 point is 136 bytes.
    CKA.EC_PARAMS: 1 * KIB,
    CKA.EC_POINT: 256,
}

#: Bound for values without one of their own when no configuration is loaded: the
#: default ``quota_bytes`` (config.py). The ABI uses the running ``quota_bytes``.
DEFAULT_VALUE_MAX = 256 * MIB

# --- mechanism parameters -------------------------------------------------------------
#: A parameter the ABI passes on as raw bytes (a CBC IV, a key-wrap IV) or that belongs to
#: a mechanism the token does not know: the largest such parameter is a 16-byte IV.
MAX_RAW_PARAM_LEN = 1 * KIB

#: Nested lengths inside CK_*_PARAMS structs (the struct sizes themselves must match
#: sizeof exactly: abi/params.py). AAD is input data: bounded by ``max_data_len``.
PARAM_FIELD_MAX: dict[str, int] = {
    "gcm_iv": 128,              # pyca AES-GCM takes 8..128-byte IVs
    "ccm_nonce": 13,            # CCM: 7..13 bytes (SP 800-38C)
    "chacha_nonce": 24,         # 8, 12 (ChaCha20-Poly1305) or 24 (XChaCha20) bytes
    "oaep_label": 64 * KIB,     # token choice: no application sends a larger OAEP label
    "ecdh_public": 1 * KIB,     # an encoded point (raw or DER), at most 136 bytes on this token
    "ecdh_shared": 64 * KIB,    # X9.63 KDF SharedInfo: token choice
    "eddsa_context": 255,       # RFC 8032 §5.1/§5.2: context is at most 255 octets
    "sign_context": 255,        # FIPS 204 §5.2 (ML-DSA ctx): at most 255 bytes
    "hkdf_salt": 64 * KIB,      # token choice
    "hkdf_info": 64 * KIB,      # token choice
    "pbkdf2_salt": 64 * KIB,    # token choice
    "pbkdf2_prf_data": 64 * KIB,
    "pbkdf2_password": 64 * KIB,
}

#: Bound for AAD when no configuration is loaded: the default ``max_data_len``.
DEFAULT_DATA_MAX = 64 * MIB

# --- other inputs and outputs ------------------------------------------------------------
#: C_GenerateRandom's ulRandomLen (CKR_ARGUMENTS_BAD above: the function has no range code).
MAX_RANDOM_LEN = 64 * MIB

#: C_SeedRandom's ulSeedLen: the token never takes a seed (CKR_RANDOM_SEED_NOT_SUPPORTED),
#: so a seed is never read; a length above this is CKR_ARGUMENTS_BAD all the same.
MAX_SEED_LEN = 64 * KIB

#: A PIN at C_Login (and C_SetPIN's old PIN) longer than this and than ``pin_max_len`` can
#: never be right: CKR_ARGUMENTS_BAD (C_Login) / CKR_PIN_LEN_RANGE (C_SetPIN), not counted
#: as a wrong guess. New PINs are bounded by ``pin_max_len`` itself.
MAX_PIN_LEN = 4 * KIB
