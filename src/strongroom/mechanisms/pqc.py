"""ML-DSA and ML-KEM key material (PKCS#11 v3.2 Current Mechanisms, "ML-DSA" and "ML-KEM").

Key objects, per the spec's tables:

* public key: CKA_PARAMETER_SET (CKP_*) and CKA_VALUE = the FIPS 204 public key / the
  FIPS 203 encapsulation key ek, raw bytes.
* private key: CKA_PARAMETER_SET plus CKA_SEED (ML-DSA: the 32-byte xi of
  ML-DSA.KeyGen; ML-KEM: the 64-byte d||z of ML-KEM.KeyGen) and/or CKA_VALUE (the
  expanded FIPS 204 sk / FIPS 203 dk). "At least one ... must be specified on
  C_CreateObject. Tokens may reject creation requests that only specify one."

What pyca/cryptography 48 can do decides what strongroom accepts: its ML-DSA / ML-KEM
private keys exist only in seed form (``from_seed_bytes``, ``private_bytes_raw`` is the
seed; an expanded key can be neither loaded nor produced). Therefore

* CKA_SEED is required on import; a private key given only as CKA_VALUE is
  CKR_TEMPLATE_INCOMPLETE (the spec allows refusing it);
* when CKA_VALUE is given as well it must have the set's length and agree with the seed
  in every part that is a plain encoding of the public key (ML-DSA: rho and
  tr = SHAKE256(pk, 64); ML-KEM: ek, H(ek) = SHA3-256(ek) and z) -- else
  CKR_TEMPLATE_INCONSISTENT. The secret polynomial parts (ML-DSA s1, s2, t0, K;
  ML-KEM dk_pke) cannot be recomputed without an expanded-key API and are not checked;
  the key is always used through its seed;
* key pair generation contributes CKA_SEED but not the private CKA_VALUE.

ML-KEM-512 is a defined parameter set that pyca 48 does not implement: keys of that set
are CKR_PARAMETER_SET_NOT_SUPPORTED (v3.2: "This parameter set is not supported by this
token. Used with ... ML-KEM, ML-DSA ...").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..pkcs11.constants import CKA, CKK, CKO, CKR, MechanismFlag, MLDSAParameterSet, MLKEMParameterSet
from ..pkcs11.errors import CKRError

Attrs = Mapping[int, Any]
AttrDict = dict[int, Any]
#: pyca's ML-DSA / ML-KEM classes share no base class: one union per family and role.
DsaPrivate = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
DsaPublic = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
KemPrivate = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
KemPublic = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey
PrivateKey = DsaPrivate | KemPrivate
PublicKey = DsaPublic | KemPublic


@dataclass(frozen=True)
class ParameterSet:
    """One CKP_ML_DSA_* / CKP_ML_KEM_* value and what pyca offers for it."""

    key_type: int
    ckp: int
    name: str
    public_len: int          # CKA_VALUE of the public key; CK_MECHANISM_INFO key size unit
    private_len: int         # expanded sk / dk (private CKA_VALUE)
    seed_len: int            # CKA_SEED
    output_len: int          # ML-DSA signature / ML-KEM ciphertext
    private_cls: type[PrivateKey] | None  # None: defined by the spec, not implemented by pyca 48
    public_cls: type[PublicKey] | None

    def implemented(self) -> tuple[type[PrivateKey], type[PublicKey]]:
        """pyca's private and public classes; PARAMETER_SET_NOT_SUPPORTED without them."""
        if self.private_cls is None or self.public_cls is None:
            raise CKRError(CKR.PARAMETER_SET_NOT_SUPPORTED,
                           f"{self.name} is not supported (pyca/cryptography has no implementation)")
        return self.private_cls, self.public_cls


ML_DSA_SETS: dict[int, ParameterSet] = {
    p.ckp: p for p in (
        ParameterSet(CKK.ML_DSA, MLDSAParameterSet.ML_DSA_44, "ML-DSA-44", 1312, 2560, 32, 2420,
                     mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey),
        ParameterSet(CKK.ML_DSA, MLDSAParameterSet.ML_DSA_65, "ML-DSA-65", 1952, 4032, 32, 3309,
                     mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey),
        ParameterSet(CKK.ML_DSA, MLDSAParameterSet.ML_DSA_87, "ML-DSA-87", 2592, 4896, 32, 4627,
                     mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey),
    )
}
ML_KEM_SETS: dict[int, ParameterSet] = {
    p.ckp: p for p in (
        ParameterSet(CKK.ML_KEM, MLKEMParameterSet.ML_KEM_512, "ML-KEM-512", 800, 1632, 64, 768,
                     None, None),
        ParameterSet(CKK.ML_KEM, MLKEMParameterSet.ML_KEM_768, "ML-KEM-768", 1184, 2400, 64, 1088,
                     mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey),
        ParameterSet(CKK.ML_KEM, MLKEMParameterSet.ML_KEM_1024, "ML-KEM-1024", 1568, 3168, 64, 1568,
                     mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey),
    )
}
SETS: dict[int, dict[int, ParameterSet]] = {CKK.ML_DSA: ML_DSA_SETS, CKK.ML_KEM: ML_KEM_SETS}
KEY_TYPES = frozenset(SETS)
ML_KEM_SHARED_SECRET_LEN = 32


def supported(key_type: int) -> list[ParameterSet]:
    return [p for p in SETS[key_type].values() if p.private_cls is not None]


def size_range(key_type: int) -> tuple[int, int]:
    """CK_MECHANISM_INFO min/max: "the supported range of ... public key in bytes"."""
    lengths = [p.public_len for p in supported(key_type)]
    return min(lengths), max(lengths)


def parameter_set(key_type: int, value: object) -> ParameterSet:
    """The set named by a CKA_PARAMETER_SET value (the template validator has checked it
    is one of the spec's CKP values for the key type)."""
    if value is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_PARAMETER_SET missing")
    ps = SETS[key_type].get(value) if isinstance(value, int) else None
    if ps is None:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"CKA_PARAMETER_SET {value!r} is not defined")
    ps.implemented()
    return ps


def of_key(attrs: Attrs) -> ParameterSet:
    return parameter_set(attrs[CKA.KEY_TYPE], attrs.get(CKA.PARAMETER_SET))


def public_key_info(key: PublicKey) -> bytes:
    """CKA_PUBLIC_KEY_INFO: DER SubjectPublicKeyInfo (FIPS 204/203 OIDs, RFC 9881/9935)."""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _bytes(attrs: Attrs, cka: int, length: int) -> bytes:
    value = attrs.get(cka)
    if not isinstance(value, bytes) or len(value) != length:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"{CKA(cka).name} must be {length} bytes")
    return value


def _private_from_seed(ps: ParameterSet, seed: bytes) -> PrivateKey:
    try:
        return ps.implemented()[0].from_seed_bytes(seed)
    except ValueError:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_SEED rejected") from None


def _public_from_value(ps: ParameterSet, value: bytes, rv: int) -> PublicKey:
    try:
        return ps.implemented()[1].from_public_bytes(value)
    except ValueError:
        raise CKRError(rv, f"invalid {ps.name} public key") from None


def _shake256(data: bytes, n: int) -> bytes:
    h = hashes.Hash(hashes.SHAKE256(n))
    h.update(data)
    return h.finalize()


def _sha3_256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA3_256())
    h.update(data)
    return h.finalize()


def expanded_matches(ps: ParameterSet, seed: bytes, public: bytes, value: bytes) -> bool:
    """Does an expanded private key agree with the seed's public key in its public parts?

    ML-DSA sk (FIPS 204 skEncode) = rho(32) || K(32) || tr(64) || s1 || s2 || t0 with
    pk = rho || t1 and tr = H(pk, 64). ML-KEM dk (FIPS 203 ML-KEM.KeyGen_internal) =
    dk_pke || ek || H(ek) || z with z the second half of the seed d||z.
    """
    if ps.key_type == CKK.ML_DSA:
        return value[:32] == public[:32] and value[64:128] == _shake256(public, 64)
    ek_at = ps.private_len - ps.public_len - 64
    return (value[ek_at:ek_at + ps.public_len] == public
            and value[-64:-32] == _sha3_256(public) and value[-32:] == seed[32:])


def normalize(cls: int, key_type: int, attrs: Attrs) -> AttrDict:
    """C_CreateObject of an ML-DSA / ML-KEM key: check the material, add CKA_PUBLIC_KEY_INFO."""
    ps = of_key(attrs)
    if cls == CKO.PUBLIC_KEY:
        value = _bytes(attrs, CKA.VALUE, ps.public_len)
        key: PublicKey = _public_from_value(ps, value, CKR.ATTRIBUTE_VALUE_INVALID)
    elif cls == CKO.PRIVATE_KEY:
        if attrs.get(CKA.SEED) is None:
            raise CKRError(CKR.TEMPLATE_INCOMPLETE,
                           "CKA_SEED is required (an expanded key alone cannot be used)")
        seed = _bytes(attrs, CKA.SEED, ps.seed_len)
        key = _private_from_seed(ps, seed).public_key()
        if attrs.get(CKA.VALUE) is not None:
            value = _bytes(attrs, CKA.VALUE, ps.private_len)
            if not expanded_matches(ps, seed, key.public_bytes_raw(), value):
                raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE does not belong to CKA_SEED")
    else:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "key type not supported for this class")
    info = public_key_info(key)
    given = attrs.get(CKA.PUBLIC_KEY_INFO)
    if given and given != info:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_PUBLIC_KEY_INFO does not match the key")
    return {CKA.PUBLIC_KEY_INFO: info}


def key_size(attrs: Attrs) -> int:
    """Public key length in bytes (the unit of these mechanisms' CK_MECHANISM_INFO)."""
    value = attrs.get(CKA.PARAMETER_SET)
    ps = SETS[attrs[CKA.KEY_TYPE]].get(value) if isinstance(value, int) else None
    if ps is None:
        raise KeyError("no parameter set")
    return ps.public_len


def load_private(attrs: Attrs) -> PrivateKey:
    ps = of_key(attrs)
    seed = attrs.get(CKA.SEED)
    if not isinstance(seed, bytes):
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, f"{ps.name} private key has no CKA_SEED")
    return _private_from_seed(ps, seed)


def load_public(attrs: Attrs) -> PublicKey:
    if attrs.get(CKA.CLASS) == CKO.PRIVATE_KEY:
        return load_private(attrs).public_key()
    ps = of_key(attrs)
    value = attrs.get(CKA.VALUE)
    if not isinstance(value, bytes) or len(value) != ps.public_len:
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT, f"{ps.name} public key has no valid CKA_VALUE")
    return _public_from_value(ps, value, CKR.KEY_TYPE_INCONSISTENT)


def generate(key_type: int, pub: AttrDict, priv: AttrDict) -> tuple[AttrDict, AttrDict, PrivateKey]:
    """Key pair generation shared by CKM_ML_DSA_KEY_PAIR_GEN and CKM_ML_KEM_KEY_PAIR_GEN.

    The parameter set comes from the public template ("the parameter set is not specified
    in the [private] key's template"; the validator forbids it there). Contributes
    CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE (+ CKA_PUBLIC_KEY_INFO) to the public key and
    CKA_CLASS, CKA_KEY_TYPE, CKA_PARAMETER_SET, CKA_SEED (+ CKA_PUBLIC_KEY_INFO) to the
    private key; the private CKA_VALUE the spec lists is not available from pyca.
    """
    if CKA.PARAMETER_SET not in pub:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_PARAMETER_SET missing from public template")
    ps = parameter_set(key_type, pub[CKA.PARAMETER_SET])
    key = ps.implemented()[0].generate()
    public = key.public_key()
    info = public_key_info(public)
    return (
        {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: key_type, CKA.VALUE: public.public_bytes_raw(),
         CKA.PUBLIC_KEY_INFO: info},
        {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: key_type, CKA.PARAMETER_SET: ps.ckp,
         CKA.SEED: key.private_bytes_raw(), CKA.PUBLIC_KEY_INFO: info},
        key,
    )


def register_family(key_type: int, keygen: int, *, signs: bool) -> tuple[int, int]:
    """Register the key type's handler (keytypes.py) and its CKM_*_KEY_PAIR_GEN, for
    mldsa.py / mlkem.py; returns the (min, max) key sizes of the type's mechanisms."""
    from .keytypes import KeyTypeHandler, register_key_type
    from .registry import MechanismEntry, register

    def generate_pair(param: object, pub: AttrDict, priv: AttrDict) -> tuple[AttrDict, AttrDict]:
        pub_attrs, priv_attrs, _ = generate(key_type, pub, priv)
        return pub_attrs, priv_attrs

    # Not importable through the API (no pyca classes here): only the token's own rules.
    register_key_type(KeyTypeHandler(key_types=frozenset({key_type}), normalize=normalize, size=key_size,
                                     load_private=load_private, load_public=load_public, signs=signs))
    low, high = size_range(key_type)
    register(MechanismEntry(mechanism=keygen, flags=MechanismFlag.GENERATE_KEY_PAIR, min_key_size=low,
                            max_key_size=high, key_types=frozenset(), generate_pair=generate_pair,
                            gen_key_type=key_type))
    return low, high
