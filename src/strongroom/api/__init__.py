"""strongroom's Python API: tokens of any PKCS#11 module, keys as pyca/cryptography objects.

    import strongroom
    with strongroom.open("pkcs11:token=dev", pin="...") as token:
        key = token.private_key(label="device")          # an ec.EllipticCurvePrivateKey
        csr = x509.CertificateSigningRequestBuilder()....sign(key, hashes.SHA256())

python-pkcs11 is the PKCS#11 client, so the same code works with strongroom's module
(loaded into this process) and with any other (SoftHSM2, hardware tokens).
"""
from __future__ import annotations

from .errors import (
    AmbiguousMatch,
    NotExtractable,
    NotLoggedIn,
    ObjectNotFound,
    PinIncorrect,
    PinLocked,
    StrongroomError,
    TokenNotFound,
    Unsupported,
)
from .objects import ObjectRef
from .session import Token, open

__all__ = [
    "AmbiguousMatch",
    "NotExtractable",
    "NotLoggedIn",
    "ObjectNotFound",
    "ObjectRef",
    "PinIncorrect",
    "PinLocked",
    "StrongroomError",
    "Token",
    "TokenNotFound",
    "Unsupported",
    "open",
]
