"""Which Python type each mechanism's parameter decodes to: the one table of it.

Why a table here and not in the registry: the ABI must decode ``pParameter`` before the
core looks the mechanism up, and it must not import the mechanism families (pyca, cold
start) to learn a struct's shape. Both the ABI and ``mechanisms.registry`` read
:data:`PARAM_TYPE`; a test checks every registered entry's ``param_type`` against it.

Values: a ``pkcs11.params`` dataclass for a C struct, ``int`` for a bare CK_ULONG
(``CK_MAC_GENERAL_PARAMS``), ``bytes`` for a raw byte string (an IV). A CKM absent from
the table takes no parameter (the ABI then passes any bytes it was given as they are and
the registry refuses them). Imported at the first mechanism parameter, not at
C_Initialize: keep this module to the constants and the params dataclasses.

Adding a parameter struct: the dataclass in ``pkcs11/params.py``, its rows here, its
decoder in ``abi/params.py``.
"""
from __future__ import annotations

from .constants import CKM
from .params import (
    ChaCha20Poly1305Params,
    CtrParams,
    EcdhParams,
    EddsaParams,
    GcmParams,
    HkdfParams,
    Pbkdf2Params,
    RsaOaepParams,
    RsaPssParams,
    SignAdditionalContext,
)

#: CKM -> the type its decoded parameter must have (``registry.check_param``).
PARAM_TYPE: dict[int, type] = {
    # RSA (mechanisms/rsa.py)
    CKM.RSA_PKCS_OAEP: RsaOaepParams,
    CKM.RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA1_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA224_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA256_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA384_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA512_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA3_224_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA3_256_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA3_384_RSA_PKCS_PSS: RsaPssParams,
    CKM.SHA3_512_RSA_PKCS_PSS: RsaPssParams,
    # EC / Edwards / ML-DSA (ecdh.py, eddsa.py, mldsa.py)
    CKM.ECDH1_DERIVE: EcdhParams,
    CKM.ECDH1_COFACTOR_DERIVE: EcdhParams,
    CKM.EDDSA: EddsaParams,
    CKM.ML_DSA: SignAdditionalContext,
    # AES, ChaCha20 (aes.py, aes_wrap.py, chacha.py)
    CKM.AES_CBC: bytes,
    CKM.AES_CBC_PAD: bytes,
    CKM.AES_CTR: CtrParams,
    CKM.AES_GCM: GcmParams,
    CKM.AES_KEY_WRAP: bytes,
    CKM.AES_KEY_WRAP_PAD: bytes,
    CKM.AES_KEY_WRAP_KWP: bytes,
    CKM.AES_KEY_WRAP_PKCS7: bytes,
    CKM.CHACHA20_POLY1305: ChaCha20Poly1305Params,
    # MACs with a CK_MAC_GENERAL_PARAMS length (aes_mac.py, hmac.py)
    CKM.AES_CMAC_GENERAL: int,
    CKM.SHA_1_HMAC_GENERAL: int,
    CKM.SHA224_HMAC_GENERAL: int,
    CKM.SHA256_HMAC_GENERAL: int,
    CKM.SHA384_HMAC_GENERAL: int,
    CKM.SHA512_HMAC_GENERAL: int,
    CKM.SHA512_224_HMAC_GENERAL: int,
    CKM.SHA512_256_HMAC_GENERAL: int,
    CKM.SHA3_224_HMAC_GENERAL: int,
    CKM.SHA3_256_HMAC_GENERAL: int,
    CKM.SHA3_384_HMAC_GENERAL: int,
    CKM.SHA3_512_HMAC_GENERAL: int,
    # key derivation / generation (kdf.py)
    CKM.HKDF_DERIVE: HkdfParams,
    CKM.HKDF_DATA: HkdfParams,
    CKM.PKCS5_PBKD2: Pbkdf2Params,
}
