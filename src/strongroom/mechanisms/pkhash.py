"""Hash tables the public-key families share (RSA PSS/OAEP, ECDSA, ECDH KDFs).

CKM digest / CKG MGF1 / CKD KDF constants -> pyca hash classes. Kept apart from
``digest.py`` so the signature families do not depend on which digests the digest
family registers.
"""
from __future__ import annotations

from cryptography.hazmat.primitives import hashes

from ..pkcs11.constants import CKD, CKG, CKM

#: CK_MECHANISM_TYPE of a digest (hashAlg fields, CKM_SHA*_RSA_PKCS*) -> pyca hash.
BY_CKM: dict[int, type[hashes.HashAlgorithm]] = {
    CKM.SHA_1: hashes.SHA1,
    CKM.SHA224: hashes.SHA224,
    CKM.SHA256: hashes.SHA256,
    CKM.SHA384: hashes.SHA384,
    CKM.SHA512: hashes.SHA512,
    CKM.SHA3_224: hashes.SHA3_224,
    CKM.SHA3_256: hashes.SHA3_256,
    CKM.SHA3_384: hashes.SHA3_384,
    CKM.SHA3_512: hashes.SHA3_512,
}

#: CK_RSA_PKCS_MGF_TYPE -> the hash MGF1 uses.
MGF1: dict[int, type[hashes.HashAlgorithm]] = {
    CKG.MGF1_SHA1: hashes.SHA1,
    CKG.MGF1_SHA224: hashes.SHA224,
    CKG.MGF1_SHA256: hashes.SHA256,
    CKG.MGF1_SHA384: hashes.SHA384,
    CKG.MGF1_SHA512: hashes.SHA512,
    CKG.MGF1_SHA3_224: hashes.SHA3_224,
    CKG.MGF1_SHA3_256: hashes.SHA3_256,
    CKG.MGF1_SHA3_384: hashes.SHA3_384,
    CKG.MGF1_SHA3_512: hashes.SHA3_512,
}

#: CK_EC_KDF_TYPE of the ANSI X9.63 KDFs (CKD_SHA*_KDF) -> hash; CKD_NULL is handled apart.
X963: dict[int, type[hashes.HashAlgorithm]] = {
    CKD.SHA1_KDF: hashes.SHA1,
    CKD.SHA224_KDF: hashes.SHA224,
    CKD.SHA256_KDF: hashes.SHA256,
    CKD.SHA384_KDF: hashes.SHA384,
    CKD.SHA512_KDF: hashes.SHA512,
    CKD.SHA3_224_KDF: hashes.SHA3_224,
    CKD.SHA3_256_KDF: hashes.SHA3_256,
    CKD.SHA3_384_KDF: hashes.SHA3_384,
    CKD.SHA3_512_KDF: hashes.SHA3_512,
}
