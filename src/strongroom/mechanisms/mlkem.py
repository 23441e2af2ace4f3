"""ML-KEM (FIPS 203) key pair generation and key encapsulation (PKCS#11 v3.2 "ML-KEM").

* CKM_ML_KEM_KEY_PAIR_GEN: the public template's CKA_PARAMETER_SET picks the set; see
  :func:`pqc.generate` for what each half receives. ML-KEM-768 and ML-KEM-1024 only:
  pyca/cryptography 48 has no ML-KEM-512, so CKP_ML_KEM_512 is
  CKR_PARAMETER_SET_NOT_SUPPORTED (key generation and import alike).
* CKM_ML_KEM (no parameter): C_EncapsulateKey runs ML-KEM.Encaps on the public key and
  returns (ciphertext, 32-byte shared secret); C_DecapsulateKey runs ML-KEM.Decaps. The
  core turns the shared secret into the new key's CKA_VALUE. A ciphertext of the wrong
  length for the key's set is CKR_ENCRYPTED_DATA_LEN_RANGE ("invalid ciphertext solely
  on the basis of its length"); a well-formed but wrong ciphertext is not an error --
  FIPS 203 decapsulation rejects implicitly and yields an unrelated secret.
* CK_MECHANISM_INFO key sizes are public key lengths in bytes (1184..1568), per the spec.
"""
from __future__ import annotations

from typing import cast

from ..pkcs11.constants import CKK, CKM, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from . import pqc
from .registry import KeyMaterial, MechanismEntry, register

MIN_SIZE, MAX_SIZE = pqc.register_family(CKK.ML_KEM, CKM.ML_KEM_KEY_PAIR_GEN, signs=False)


def encapsulate(param: object, key: KeyMaterial) -> tuple[bytes, bytes]:
    """C_EncapsulateKey: (ciphertext, shared secret) for the ML-KEM public key ``key``."""
    public = cast("pqc.KemPublic", key.parsed(pqc.load_public))   # CKK_ML_KEM: the core checked
    shared, ciphertext = public.encapsulate()
    return ciphertext, shared


def decapsulate(param: object, key: KeyMaterial, ciphertext: bytes) -> bytes:
    """C_DecapsulateKey: the shared secret ``ciphertext`` carries for the private ``key``."""
    ps = pqc.of_key(key.attrs)
    if len(ciphertext) != ps.output_len:
        raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE,
                       f"{ps.name} ciphertexts are {ps.output_len} bytes")
    try:
        return cast("pqc.KemPrivate", key.parsed(pqc.load_private)).decapsulate(ciphertext)
    except ValueError:
        raise CKRError(CKR.ENCRYPTED_DATA_INVALID, "ML-KEM decapsulation failed") from None


register(MechanismEntry(
    mechanism=CKM.ML_KEM, flags=F.ENCAPSULATE | F.DECAPSULATE,
    min_key_size=MIN_SIZE, max_key_size=MAX_SIZE, key_types=frozenset({CKK.ML_KEM}),
    encapsulate=encapsulate, decapsulate=decapsulate,
))
