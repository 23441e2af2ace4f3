"""Mechanism names → python-pkcs11 mechanisms and their parameters.

Token.sign/verify/encrypt/decrypt take a mechanism by its PKCS#11 name without the
CKM_ prefix ("ECDSA_SHA256", "SHA256_RSA_PKCS_PSS", "AES_GCM"). The parameters a
caller would otherwise have to build (PSS hash/MGF/salt, OAEP hash/MGF, a fresh IV)
are derived here from the name, so a name is all a script needs.
"""
from __future__ import annotations

import os
from typing import Any

from pkcs11 import MGF, Mechanism

from .errors import Unsupported

__all__ = ["IV_MECHANISMS", "default_encrypt", "default_sign", "mechanism", "pss_params"]

_HASH_LEN = {"SHA1": 20, "SHA224": 28, "SHA256": 32, "SHA384": 48, "SHA512": 64}
_MGF = {"SHA1": MGF.SHA1, "SHA224": MGF.SHA224, "SHA256": MGF.SHA256, "SHA384": MGF.SHA384,
        "SHA512": MGF.SHA512}
_HASH_MECH = {"SHA1": Mechanism.SHA_1, "SHA224": Mechanism.SHA224, "SHA256": Mechanism.SHA256,
              "SHA384": Mechanism.SHA384, "SHA512": Mechanism.SHA512}
# IV length prepended to the ciphertext by encrypt() and read back by decrypt().
IV_MECHANISMS = {"AES_GCM": 12, "AES_CBC_PAD": 16, "AES_CBC": 16, "AES_CTR": 16}


def normalise(name: str) -> str:
    """The one spelling every lookup here uses: "ckm_aes-gcm" -> "AES_GCM"."""
    return name.strip().upper().removeprefix("CKM_").replace("-", "_")


def mechanism(name: str) -> Any:
    """The python-pkcs11 Mechanism for a name ("ECDSA_SHA256", "CKM_ECDSA_SHA256", "aes-gcm")."""
    key = normalise(name)
    if key.startswith("RSA_PKCS_OAEP_") and hash_of(key):     # "RSA_PKCS_OAEP_SHA1": OAEP with that hash
        key = "RSA_PKCS_OAEP"
    try:
        return Mechanism[key]
    except KeyError:
        raise Unsupported(f"unknown mechanism {name!r}") from None


def hash_of(name: str) -> str | None:
    """"SHA256" for "SHA256_RSA_PKCS_PSS" / "ECDSA_SHA256"; None when the name has no hash."""
    for part in name.upper().replace("SHA_1", "SHA1").split("_"):
        if part in _HASH_LEN:
            return part
    return None


def pss_params(hash_name: str, salt_length: int | None = None) -> tuple[Any, Any, int]:
    """python-pkcs11's PSS parameter tuple (hash mechanism, MGF, salt length)."""
    return (_HASH_MECH[hash_name], _MGF[hash_name],
            _HASH_LEN[hash_name] if salt_length is None else salt_length)


def hash_for_digest(length: int) -> str:
    """The hash a bare digest of `length` bytes came from (raw RSA_PKCS_PSS)."""
    for name, size in _HASH_LEN.items():
        if size == length:
            return name
    raise ValueError(f"RSA_PKCS_PSS signs a digest: {length} bytes is no SHA-1/SHA-2 digest length")


#: CK_EDDSA_PARAMS {phFlag = CK_FALSE, no context} as raw bytes (x86-64 layout: CK_BBOOL,
#: padding, CK_ULONG, pointer): pure Ed448. CKM_EDDSA requires the parameter for Ed448
#: keys (v3.0 Current Mechanisms, section "EdDSA"); python-pkcs11 passes bytes through unchanged.
ED448_PURE_PARAMS = bytes(24)


def sign_params(name: str, data: bytes, curve: str | None = None) -> Any:
    """The mechanism parameter a signing mechanism needs (None for most)."""
    upper = normalise(name)
    if upper.endswith("RSA_PKCS_PSS"):
        return pss_params(hash_of(upper) or hash_for_digest(len(data)))
    if upper == "EDDSA" and curve == "ed448":
        return ED448_PURE_PARAMS
    return None


def oaep_params(name: str) -> Any:
    """python-pkcs11's OAEP parameter (hash mechanism, MGF, label): SHA-256 unless the
    name says another hash ("RSA_PKCS_OAEP_SHA1" — SoftHSM2 2.6 only does SHA-1)."""
    hash_name = hash_of(name) or "SHA256"
    return (_HASH_MECH[hash_name], _MGF[hash_name], None)


def default_sign(key_type: str | None, ec_bits: int | None = None) -> str:
    """The mechanism name sign() uses when none is given, by CKK_ type."""
    if key_type == "rsa":
        return "SHA256_RSA_PKCS"
    if key_type == "ec":
        return {384: "ECDSA_SHA384", 521: "ECDSA_SHA512", 512: "ECDSA_SHA512"}.get(ec_bits or 256, "ECDSA_SHA256")
    if key_type == "ec_edwards":
        return "EDDSA"
    if key_type == "ml_dsa":
        return "ML_DSA"
    if key_type in ("generic_secret", "sha256_hmac"):
        return "SHA256_HMAC"
    if key_type == "aes":
        return "AES_CMAC"
    raise Unsupported(f"no signing mechanism for {key_type or 'this'} keys")


def default_encrypt(key_type: str | None) -> str:
    if key_type == "aes":
        return "AES_GCM"
    if key_type == "rsa":
        return "RSA_PKCS_OAEP"
    raise Unsupported(f"no encryption mechanism for {key_type or 'this'} keys")


def crypt_params(name: str, iv: bytes | None) -> Any:
    """Parameter for an encrypt/decrypt mechanism: the IV (GCM: nonce, no AAD, 128-bit
    tag), OAEP hash/MGF, or None."""
    upper = normalise(name)
    if upper == "AES_GCM":
        from pkcs11.mechanisms import GCMParams

        if iv is None:
            raise ValueError("AES_GCM needs its nonce")
        return GCMParams(iv, b"", 128)
    if upper in IV_MECHANISMS:
        return iv
    if upper.startswith("RSA_PKCS_OAEP"):
        return oaep_params(upper)
    return None


def fresh_iv(name: str) -> bytes | None:
    size = IV_MECHANISMS.get(normalise(name))
    return os.urandom(size) if size else None
