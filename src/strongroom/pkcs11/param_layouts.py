"""The layout of every mechanism parameter struct: one row per C member, read by every
layer that moves a parameter (the one source the issue-13 service asks for).

Readers:
- ``abi/params.py`` reads a caller's C struct through cffi by these rows;
- ``server/mechanism_wire.py`` reads and writes the struct flattened on the wire;
- the C client (``client/gen_tables.py``, at build time) generates its encoder table from
  them, with ``offsetof`` on the same C declarations (abi/ck_types.h).

The wire form is the struct's fields in row order, each as p11-kit's RPC protocol carries
it (docs/protocol.md "Mechanisms"): a CK_ULONG as a big-endian uint64, a CK_BBOOL as one
byte, a pointer + length (or an inline array) as a byte array (uint32 length, 0xFFFFFFFF
for a NULL pointer). For the structs p11-kit knows (PSS, OAEP, ECDH1, GCM, CTR, MAC
general, CBC IVs) that is byte for byte p11-kit's own encoding, so its stock client and
strongroom's read the same rows.

Adding a parameter struct: its dataclass in ``pkcs11/params.py``, its C declaration in
``abi/ck_types.h``, its row here and its CKMs in ``pkcs11/mechanism_params.py``. Nothing
else is written by hand.
"""
from __future__ import annotations

from .._records import NamedTuple
from . import params as P

__all__ = ["BITS_BYTES", "BOOL", "BYTES", "FIXED_BYTES", "INLINE", "LAYOUTS", "ULONG", "Field", "Layout"]

#: Field kinds.
ULONG = "ulong"            # CK_ULONG member ``member``
BOOL = "bool"              # CK_BBOOL member ``member``
BYTES = "bytes"            # pointer ``member``, its length the CK_ULONG member ``length``
INLINE = "inline"          # CK_BYTE ``member[size]`` inside the struct
FIXED_BYTES = "fixed"      # pointer ``member`` to exactly ``size`` bytes (no length member)
BITS_BYTES = "bits"        # pointer ``member`` to ceil(``length`` member / 8) bytes


class Field(NamedTuple):
    """One member of a parameter struct. ``name`` is the dataclass field; ``limit`` a
    ``limits.PARAM_FIELD_MAX`` key, a byte count, or ``"data"`` (the running
    ``max_data_len``: AAD); ``out``: the token writes it back (message-based AEAD)."""

    name: str
    kind: str
    member: str
    length: str = ""
    size: int = 0
    limit: str | int = 0
    out: bool = False


class Layout(NamedTuple):
    """A C struct (``ctype``, declared in abi/ck_types.h) and its members in order."""

    ctype: str
    fields: tuple[Field, ...]


def _u(name: str, member: str) -> Field:
    return Field(name, ULONG, member)


def _b(name: str, member: str, length: str, limit: str | int) -> Field:
    return Field(name, BYTES, member, length, limit=limit)


LAYOUTS: dict[type, Layout] = {
    P.RsaPssParams: Layout("CK_RSA_PKCS_PSS_PARAMS", (
        _u("hash_alg", "hashAlg"), _u("mgf", "mgf"), _u("salt_len", "sLen"))),
    P.RsaOaepParams: Layout("CK_RSA_PKCS_OAEP_PARAMS", (
        _u("hash_alg", "hashAlg"), _u("mgf", "mgf"), _u("source", "source"),
        _b("source_data", "pSourceData", "ulSourceDataLen", "oaep_label"))),
    P.GcmParams: Layout("CK_GCM_PARAMS", (
        _b("iv", "pIv", "ulIvLen", "gcm_iv"), _u("iv_bits", "ulIvBits"),
        _b("aad", "pAAD", "ulAADLen", "data"), _u("tag_bits", "ulTagBits"))),
    P.CcmParams: Layout("CK_CCM_PARAMS", (
        _u("data_len", "ulDataLen"), _b("nonce", "pNonce", "ulNonceLen", "ccm_nonce"),
        _b("aad", "pAAD", "ulAADLen", "data"), _u("mac_len", "ulMACLen"))),
    P.CtrParams: Layout("CK_AES_CTR_PARAMS", (
        _u("counter_bits", "ulCounterBits"), Field("cb", INLINE, "cb", size=16))),
    P.EcdhParams: Layout("CK_ECDH1_DERIVE_PARAMS", (
        _u("kdf", "kdf"), _b("shared_data", "pSharedData", "ulSharedDataLen", "ecdh_shared"),
        _b("public_data", "pPublicData", "ulPublicDataLen", "ecdh_public"))),
    P.EddsaParams: Layout("CK_EDDSA_PARAMS", (
        Field("ph_flag", BOOL, "phFlag"),
        _b("context", "pContextData", "ulContextDataLen", "eddsa_context"))),
    P.HkdfParams: Layout("CK_HKDF_PARAMS", (
        Field("extract", BOOL, "bExtract"), Field("expand", BOOL, "bExpand"),
        _u("prf_hash_mechanism", "prfHashMechanism"), _u("salt_type", "ulSaltType"),
        _b("salt", "pSalt", "ulSaltLen", "hkdf_salt"), _u("salt_key", "hSaltKey"),
        _b("info", "pInfo", "ulInfoLen", "hkdf_info"))),
    P.ChaCha20Poly1305Params: Layout("CK_SALSA20_CHACHA20_POLY1305_PARAMS", (
        _b("nonce", "pNonce", "ulNonceLen", "chacha_nonce"), _b("aad", "pAAD", "ulAADLen", "data"))),
    P.SignAdditionalContext: Layout("CK_SIGN_ADDITIONAL_CONTEXT", (
        _u("hedge_variant", "hedgeVariant"), _b("context", "pContext", "ulContextLen", "sign_context"))),
    P.HashSignAdditionalContext: Layout("CK_HASH_SIGN_ADDITIONAL_CONTEXT", (
        _u("hedge_variant", "hedgeVariant"), _b("context", "pContext", "ulContextLen", "sign_context"),
        _u("hash", "hash"))),
    P.Pbkdf2Params: Layout("CK_PKCS5_PBKD2_PARAMS2", (
        _u("salt_source", "saltSource"),
        _b("salt", "pSaltSourceData", "ulSaltSourceDataLen", "pbkdf2_salt"),
        _u("iterations", "iterations"), _u("prf", "prf"),
        _b("prf_data", "pPrfData", "ulPrfDataLen", "pbkdf2_prf_data"),
        _b("password", "pPassword", "ulPasswordLen", "pbkdf2_password"))),
    # message-based AEAD (v3.0 §5.13): the token writes the tag (and a generated IV) back
    P.GcmMessageParams: Layout("CK_GCM_MESSAGE_PARAMS", (
        Field("iv", BYTES, "pIv", "ulIvLen", limit="gcm_iv", out=True),
        _u("iv_fixed_bits", "ulIvFixedBits"), _u("iv_generator", "ivGenerator"),
        Field("tag", BITS_BYTES, "pTag", "ulTagBits", limit=16, out=True),
        _u("tag_bits", "ulTagBits"))),
    P.ChaCha20Poly1305MessageParams: Layout("CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS", (
        Field("nonce", BYTES, "pNonce", "ulNonceLen", limit="chacha_nonce", out=True),
        Field("tag", FIXED_BYTES, "pTag", size=16, out=True))),
}
