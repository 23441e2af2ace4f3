"""ML-KEM (PKCS#11 v3.2): NIST KAT vectors from cryptography_vectors, key import and
generation, encapsulation / decapsulation through the registry entry, error codes.

The KAT files (asymmetric/MLKEM/kat_MLKEM_{512,768,1024}.rsp) give d, z, ek (pk), dk (sk),
a ciphertext with its shared secret and a malformed ciphertext with the implicit-rejection
secret. pyca/cryptography 48 takes no encapsulation randomness, so the KAT ciphertexts
cannot be re-made; each vector checks: import of pk and of d||z (+ the expanded dk, which
must agree), the seed derives the KAT ek, the token decapsulates ct to ss and ct_n to ss_n,
and a token encapsulation decapsulates with pyca (and pyca's with the token).
ML-KEM-512 is not implemented by pyca 48: its vectors must be refused with
CKR_PARAMETER_SET_NOT_SUPPORTED.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import pqc, registry
from strongroom.mechanisms.keys import key_size, normalize_key_attrs
from strongroom.pkcs11 import template
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.constants import MLKEMParameterSet as P
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.schema import Op
from support import KeyStub

SETS = {512: P.ML_KEM_512, 768: P.ML_KEM_768, 1024: P.ML_KEM_1024}
PRIV_CLS = {P.ML_KEM_768: mlkem.MLKEM768PrivateKey, P.ML_KEM_1024: mlkem.MLKEM1024PrivateKey}
PUB_CLS = {P.ML_KEM_768: mlkem.MLKEM768PublicKey, P.ML_KEM_1024: mlkem.MLKEM1024PublicKey}
CT_LEN = {P.ML_KEM_768: 1088, P.ML_KEM_1024: 1568}


Key = KeyStub


def rv_of(fn, *args):
    with pytest.raises(CKRError) as e:
        fn(*args)
    return e.value.rv


def read_kat(bits: int, limit: int) -> list[dict]:
    import cryptography_vectors
    path = Path(cryptography_vectors.__file__).parent / f"asymmetric/MLKEM/kat_MLKEM_{bits}.rsp"
    vec: dict = {}
    out = []
    with open(path) as f:
        for line in f:
            if " = " not in line:
                continue
            k, v = line.strip().split(" = ", 1)
            if k == "count" and vec:
                out.append(vec)
                vec = {}
                if len(out) == limit:
                    break
            vec[k] = bytes.fromhex(v) if k != "count" else v
    return out[:limit]


def kat(bits: int, limit: int):
    return [pytest.param(bits, v, id=f"ML-KEM-{bits}-{v['count']}") for v in read_kat(bits, limit)]


VECTORS = [p for bits in (768, 1024) for p in kat(bits, 25)]


def imported(ps, pk: bytes, seed: bytes, sk: bytes | None = None):
    pub = {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.ML_KEM, CKA.PARAMETER_SET: ps, CKA.VALUE: pk}
    pub.update(normalize_key_attrs(CKO.PUBLIC_KEY, CKK.ML_KEM, pub))
    priv = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.ML_KEM, CKA.PARAMETER_SET: ps, CKA.SEED: seed}
    if sk is not None:
        priv[CKA.VALUE] = sk
    priv.update(normalize_key_attrs(CKO.PRIVATE_KEY, CKK.ML_KEM, priv))
    return Key(pub), Key(priv)


def encaps(key):
    return registry.get(CKM.ML_KEM).encapsulate(None, key)


def decaps(key, ct):
    return registry.get(CKM.ML_KEM).decapsulate(None, key, ct)


@pytest.mark.parametrize("bits,v", VECTORS)
def test_kat(bits, v):
    ps = SETS[bits]
    seed = v["d"] + v["z"]                                   # CKA_SEED is d||z (FIPS 203)
    pub, priv = imported(ps, v["pk"], seed, v["sk"])
    assert pqc.load_public(priv.attrs).public_bytes_raw() == v["pk"]
    assert pub.attrs[CKA.PUBLIC_KEY_INFO] == priv.attrs[CKA.PUBLIC_KEY_INFO]
    assert decaps(priv, v["ct"]) == v["ss"]
    assert decaps(priv, v["ct_n"]) == v["ss_n"]              # implicit rejection, no error
    ct, ss = encaps(pub)
    assert len(ct) == CT_LEN[ps] and len(ss) == 32
    assert PRIV_CLS[ps].from_seed_bytes(seed).decapsulate(ct) == ss     # pyca as the other party


@pytest.mark.parametrize("v", read_kat(512, 3), ids=lambda v: f"ML-KEM-512-{v['count']}")
def test_kat_512_not_supported(v):
    base = {CKA.KEY_TYPE: CKK.ML_KEM, CKA.PARAMETER_SET: P.ML_KEM_512}
    assert rv_of(normalize_key_attrs, CKO.PUBLIC_KEY, CKK.ML_KEM, {**base, CKA.VALUE: v["pk"]}) \
        == CKR.PARAMETER_SET_NOT_SUPPORTED
    assert rv_of(normalize_key_attrs, CKO.PRIVATE_KEY, CKK.ML_KEM,
                 {**base, CKA.SEED: v["d"] + v["z"], CKA.VALUE: v["sk"]}) == CKR.PARAMETER_SET_NOT_SUPPORTED


@pytest.mark.parametrize("ps", [P.ML_KEM_768, P.ML_KEM_1024])
def test_generate_pair(ps):
    pub_t = template.build([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.PARAMETER_SET, ps)], Op.GENERATE,
                           cls=CKO.PUBLIC_KEY, key_type=CKK.ML_KEM, mechanism=CKM.ML_KEM_KEY_PAIR_GEN)
    priv_t = template.build([], Op.GENERATE, cls=CKO.PRIVATE_KEY, key_type=CKK.ML_KEM,
                            mechanism=CKM.ML_KEM_KEY_PAIR_GEN)
    pub_add, priv_add = registry.get(CKM.ML_KEM_KEY_PAIR_GEN).generate_pair(None, pub_t, priv_t)
    pub, priv = Key({**pub_t, **pub_add}), Key({**priv_t, **priv_add})
    assert priv.attrs[CKA.PARAMETER_SET] == ps and len(priv.attrs[CKA.SEED]) == 64
    assert len(pub.attrs[CKA.VALUE]) == pqc.ML_KEM_SETS[ps].public_len == key_size(pub.attrs)
    assert key_size(priv.attrs) == key_size(pub.attrs)
    assert pub.attrs[CKA.ENCAPSULATE] is True and priv.attrs[CKA.DECAPSULATE] is True   # USE default
    ct, ss = encaps(pub)
    assert decaps(priv, ct) == ss
    # pyca encapsulates to the token's public key; the token decapsulates.
    ss2, ct2 = PUB_CLS[ps].from_public_bytes(pub.attrs[CKA.VALUE]).encapsulate()
    assert decaps(priv, ct2) == ss2
    assert encaps(pub)[0] != ct                                  # randomised


def test_generate_512_and_unknown_sets():
    gen = registry.get(CKM.ML_KEM_KEY_PAIR_GEN).generate_pair
    assert rv_of(gen, None, {CKA.PARAMETER_SET: P.ML_KEM_512}, {}) == CKR.PARAMETER_SET_NOT_SUPPORTED
    assert rv_of(gen, None, {}, {}) == CKR.TEMPLATE_INCOMPLETE
    with pytest.raises(CKRError) as e:
        template.build([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.PARAMETER_SET, 9)], Op.GENERATE,
                       cls=CKO.PUBLIC_KEY, key_type=CKK.ML_KEM, mechanism=CKM.ML_KEM_KEY_PAIR_GEN)
    assert e.value.rv == CKR.ATTRIBUTE_VALUE_INVALID


@pytest.fixture(scope="module")
def kem768():
    v = read_kat(768, 1)[0]
    return v, imported(P.ML_KEM_768, v["pk"], v["d"] + v["z"])


def test_ciphertext_length(kem768):
    v, (_pub, priv) = kem768
    for bad in (v["ct"][:-1], v["ct"] + b"\x00", b"", bytes(1568)):
        assert rv_of(decaps, priv, bad) == CKR.ENCRYPTED_DATA_LEN_RANGE


def test_import_errors(kem768):
    v, _ = kem768
    seed, sk, pk = v["d"] + v["z"], v["sk"], v["pk"]
    base = {CKA.KEY_TYPE: CKK.ML_KEM, CKA.PARAMETER_SET: P.ML_KEM_768}
    n = normalize_key_attrs
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_KEM, {**base, CKA.VALUE: pk[:-1]}) == CKR.ATTRIBUTE_VALUE_INVALID
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_KEM, {**base, CKA.PARAMETER_SET: P.ML_KEM_1024, CKA.VALUE: pk}) \
        == CKR.ATTRIBUTE_VALUE_INVALID
    # FIPS 203 encapsulation key check: a coefficient >= q is not a valid ek.
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_KEM, {**base, CKA.VALUE: b"\xff" * 1184}) \
        == CKR.ATTRIBUTE_VALUE_INVALID
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.VALUE: sk}) == CKR.TEMPLATE_INCOMPLETE
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.SEED: seed[:32]}) == CKR.ATTRIBUTE_VALUE_INVALID
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.SEED: seed, CKA.VALUE: sk[:-1]}) \
        == CKR.ATTRIBUTE_VALUE_INVALID
    wrong_z = seed[:32] + bytes(32)     # same d (same ek) but another z: dk's last 32 bytes differ
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.SEED: wrong_z, CKA.VALUE: sk}) \
        == CKR.TEMPLATE_INCONSISTENT
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.SEED: bytes(64), CKA.VALUE: sk}) \
        == CKR.TEMPLATE_INCONSISTENT
    assert CKA.PUBLIC_KEY_INFO in n(CKO.PRIVATE_KEY, CKK.ML_KEM, {**base, CKA.SEED: seed})


def test_mechanism_info():
    for mech in (CKM.ML_KEM_KEY_PAIR_GEN, CKM.ML_KEM):
        e = registry.get(mech)
        assert (e.min_key_size, e.max_key_size) == (1184, 1568)    # public key bytes, 768..1024
    kem = registry.get(CKM.ML_KEM)
    assert kem.flags == F.ENCAPSULATE | F.DECAPSULATE and kem.key_types == {CKK.ML_KEM}
    assert kem.operation is None and kem.param_type is None
    assert registry.get(CKM.ML_KEM_KEY_PAIR_GEN).flags == F.GENERATE_KEY_PAIR
