"""ML-DSA (PKCS#11 v3.2): NIST KAT vectors from cryptography_vectors, key import and
generation, CK_SIGN_ADDITIONAL_CONTEXT rules, error codes.

The KAT files (asymmetric/MLDSA/kat_MLDSA_{44,65,87}_det_pure.rsp) hold the seed xi, the
public key, the expanded private key and a *deterministic* pure signature with a context
string. pyca/cryptography 48 signs hedged only, so the KAT signatures cannot be
reproduced; every vector instead checks: import of pk and of xi (+ the expanded sk, which
must agree), the seed derives the KAT public key, the KAT signature verifies through the
token's verify operation with its context, a changed message / context fails, and a
signature made by the token verifies with pyca as the independent party.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import pqc, registry
from strongroom.mechanisms.keys import key_size, normalize_key_attrs
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11 import template
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, HedgeType
from strongroom.pkcs11.constants import MLDSAParameterSet as P
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import SignAdditionalContext
from strongroom.pkcs11.schema import Op
from support import KeyStub

SETS = {44: P.ML_DSA_44, 65: P.ML_DSA_65, 87: P.ML_DSA_87}
SIG_LEN = {P.ML_DSA_44: 2420, P.ML_DSA_65: 3309, P.ML_DSA_87: 4627}
PUB_CLS = {P.ML_DSA_44: mldsa.MLDSA44PublicKey, P.ML_DSA_65: mldsa.MLDSA65PublicKey,
           P.ML_DSA_87: mldsa.MLDSA87PublicKey}


Key = KeyStub


def rv_of(fn, *args):
    with pytest.raises(CKRError) as e:
        fn(*args)
    return e.value.rv


def kat(bits: int, limit: int):
    import cryptography_vectors
    path = Path(cryptography_vectors.__file__).parent / f"asymmetric/MLDSA/kat_MLDSA_{bits}_det_pure.rsp"
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
            vec[k] = v
        else:
            out.append(vec)
    return [pytest.param(bits, v, id=f"ML-DSA-{bits}-{v['count']}") for v in out[:limit]]


VECTORS = [p for bits in (44, 65, 87) for p in kat(bits, 25)]


def imported(ps, pk: bytes, xi: bytes, sk: bytes | None = None):
    pub = {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.ML_DSA, CKA.PARAMETER_SET: ps, CKA.VALUE: pk}
    pub.update(normalize_key_attrs(CKO.PUBLIC_KEY, CKK.ML_DSA, pub))
    priv = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.ML_DSA, CKA.PARAMETER_SET: ps, CKA.SEED: xi}
    if sk is not None:
        priv[CKA.VALUE] = sk
    priv.update(normalize_key_attrs(CKO.PRIVATE_KEY, CKK.ML_DSA, priv))
    return Key(pub), Key(priv)


def sign(key, data, param=None, chunks=None):
    op = registry.get(CKM.ML_DSA).operation(OpKind.SIGN, key, param)
    for c in (chunks or [data]):
        op.update(c)
    return op.final()


def verify(key, data, sig, param=None):
    op = registry.get(CKM.ML_DSA).operation(OpKind.VERIFY, key, param)
    op.update(data)
    op.verify(sig)


@pytest.mark.parametrize("bits,v", VECTORS)
def test_kat(bits, v):
    ps = SETS[bits]
    pk, xi, sk = bytes.fromhex(v["pk"]), bytes.fromhex(v["xi"]), bytes.fromhex(v["sk"])
    msg, ctx = bytes.fromhex(v["msg"]), bytes.fromhex(v["ctx"])
    sig = bytes.fromhex(v["sm"])[: SIG_LEN[ps]]
    pub, priv = imported(ps, pk, xi, sk)
    assert pub.attrs[CKA.PUBLIC_KEY_INFO] == priv.attrs[CKA.PUBLIC_KEY_INFO]
    assert pqc.load_public(priv.attrs).public_bytes_raw() == pk        # xi -> the KAT key pair
    param = SignAdditionalContext(context=ctx)
    verify(pub, msg, sig, param)
    assert rv_of(verify, pub, msg + b"\x00", sig, param) == CKR.SIGNATURE_INVALID
    assert rv_of(verify, pub, msg, sig, None) == CKR.SIGNATURE_INVALID   # context is bound
    ours = sign(priv, msg, SignAdditionalContext(HedgeType.HEDGE_REQUIRED, ctx))
    assert len(ours) == SIG_LEN[ps]
    PUB_CLS[ps].from_public_bytes(pk).verify(ours, msg, ctx)            # pyca as the other party


@pytest.mark.parametrize("ps", list(P))
def test_generate_pair(ps):
    pub_t = template.build([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.PARAMETER_SET, ps)], Op.GENERATE,
                           cls=CKO.PUBLIC_KEY, key_type=CKK.ML_DSA, mechanism=CKM.ML_DSA_KEY_PAIR_GEN)
    priv_t = template.build([], Op.GENERATE, cls=CKO.PRIVATE_KEY, key_type=CKK.ML_DSA,
                            mechanism=CKM.ML_DSA_KEY_PAIR_GEN)
    pub_add, priv_add = registry.get(CKM.ML_DSA_KEY_PAIR_GEN).generate_pair(None, pub_t, priv_t)
    pub, priv = Key({**pub_t, **pub_add}), Key({**priv_t, **priv_add})
    assert pub.attrs[CKA.KEY_TYPE] == priv.attrs[CKA.KEY_TYPE] == CKK.ML_DSA
    assert priv.attrs[CKA.PARAMETER_SET] == ps and len(priv.attrs[CKA.SEED]) == 32
    assert len(pub.attrs[CKA.VALUE]) == pqc.ML_DSA_SETS[ps].public_len == key_size(pub.attrs)
    assert key_size(priv.attrs) == key_size(pub.attrs)
    assert pub.attrs[CKA.PUBLIC_KEY_INFO] == priv.attrs[CKA.PUBLIC_KEY_INFO]
    for chunks in ([b"hello"], [b"", b"h", b"ell", b"o"]):
        sig = sign(priv, None, None, chunks)
        verify(pub, b"hello", sig)
        PUB_CLS[ps].from_public_bytes(pub.attrs[CKA.VALUE]).verify(sig, b"hello")
    # The generated private key re-imports from its seed (C_CreateObject round trip).
    again = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.ML_DSA, CKA.PARAMETER_SET: ps,
             CKA.SEED: priv.attrs[CKA.SEED]}
    assert normalize_key_attrs(CKO.PRIVATE_KEY, CKK.ML_DSA, again)[CKA.PUBLIC_KEY_INFO] == \
        pub.attrs[CKA.PUBLIC_KEY_INFO]


def test_generate_needs_parameter_set():
    with pytest.raises(CKRError) as e:
        template.build([(CKA.CLASS, CKO.PUBLIC_KEY)], Op.GENERATE, cls=CKO.PUBLIC_KEY,
                       key_type=CKK.ML_DSA, mechanism=CKM.ML_DSA_KEY_PAIR_GEN)
    assert e.value.rv == CKR.TEMPLATE_INCOMPLETE
    gen = registry.get(CKM.ML_DSA_KEY_PAIR_GEN).generate_pair
    assert rv_of(gen, None, {}, {}) == CKR.TEMPLATE_INCOMPLETE


def test_parameter_set_values_checked_by_template():
    with pytest.raises(CKRError) as e:
        template.build([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.PARAMETER_SET, 4)], Op.GENERATE,
                       cls=CKO.PUBLIC_KEY, key_type=CKK.ML_DSA, mechanism=CKM.ML_DSA_KEY_PAIR_GEN)
    assert e.value.rv == CKR.ATTRIBUTE_VALUE_INVALID
    # ^4^: the private template must not name the parameter set on generate.
    with pytest.raises(CKRError) as e:
        template.build([(CKA.PARAMETER_SET, P.ML_DSA_44)], Op.GENERATE, cls=CKO.PRIVATE_KEY,
                       key_type=CKK.ML_DSA, mechanism=CKM.ML_DSA_KEY_PAIR_GEN)
    assert e.value.rv == CKR.TEMPLATE_INCONSISTENT


@pytest.fixture(scope="module")
def pair44():
    v = kat(44, 1)[0].values[1]
    return v, imported(P.ML_DSA_44, bytes.fromhex(v["pk"]), bytes.fromhex(v["xi"]))


def test_import_errors(pair44):
    v, _ = pair44
    pk, xi, sk = bytes.fromhex(v["pk"]), bytes.fromhex(v["xi"]), bytes.fromhex(v["sk"])
    base = {CKA.KEY_TYPE: CKK.ML_DSA, CKA.PARAMETER_SET: P.ML_DSA_44}
    n = normalize_key_attrs
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_DSA, {**base, CKA.VALUE: pk[:-1]}) == CKR.ATTRIBUTE_VALUE_INVALID
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_DSA, {**base, CKA.PARAMETER_SET: P.ML_DSA_65, CKA.VALUE: pk}) \
        == CKR.ATTRIBUTE_VALUE_INVALID   # a 44 key is the wrong length for 65
    # Private: the seed is required (pyca cannot use an expanded key alone).
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, {**base, CKA.VALUE: sk}) == CKR.TEMPLATE_INCOMPLETE
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, base) == CKR.TEMPLATE_INCOMPLETE
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, {**base, CKA.SEED: xi[:31]}) == CKR.ATTRIBUTE_VALUE_INVALID
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, {**base, CKA.SEED: xi, CKA.VALUE: sk[:-1]}) \
        == CKR.ATTRIBUTE_VALUE_INVALID
    other = bytes(32)   # a different seed: sk belongs to xi, not to it
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, {**base, CKA.SEED: other, CKA.VALUE: sk}) \
        == CKR.TEMPLATE_INCONSISTENT
    tampered_tr = sk[:64] + bytes([sk[64] ^ 1]) + sk[65:]
    assert rv_of(n, CKO.PRIVATE_KEY, CKK.ML_DSA, {**base, CKA.SEED: xi, CKA.VALUE: tampered_tr}) \
        == CKR.TEMPLATE_INCONSISTENT
    assert rv_of(n, CKO.PUBLIC_KEY, CKK.ML_DSA, {**base, CKA.VALUE: pk, CKA.PUBLIC_KEY_INFO: b"\x30\x00"}) \
        == CKR.TEMPLATE_INCONSISTENT


def test_param_rules(pair44):
    _, (pub, priv) = pair44
    bad_ctx = SignAdditionalContext(context=bytes(256))
    op = registry.get(CKM.ML_DSA).operation
    assert rv_of(op, OpKind.SIGN, priv, bad_ctx) == CKR.MECHANISM_PARAM_INVALID
    assert rv_of(op, OpKind.VERIFY, pub, bad_ctx) == CKR.MECHANISM_PARAM_INVALID
    det = SignAdditionalContext(HedgeType.DETERMINISTIC_REQUIRED, b"")
    assert rv_of(op, OpKind.SIGN, priv, det) == CKR.MECHANISM_PARAM_INVALID
    assert rv_of(op, OpKind.SIGN, priv, SignAdditionalContext(7, b"")) == CKR.MECHANISM_PARAM_INVALID
    # 255 bytes is the limit, and the hedge variant is ignored on verification.
    ctx = bytes(range(255))
    sig = sign(priv, b"m", SignAdditionalContext(HedgeType.HEDGE_PREFERRED, ctx))
    verify(pub, b"m", sig, SignAdditionalContext(HedgeType.DETERMINISTIC_REQUIRED, ctx))
    verify(pub, b"m", sign(priv, b"m", SignAdditionalContext()))     # empty context == none
    verify(pub, b"m", sign(priv, b"m"), SignAdditionalContext())
    # Hedged: two signatures of the same message differ.
    assert sign(priv, b"m") != sign(priv, b"m")
    # Empty messages are allowed ("any" input length).
    verify(pub, b"", sign(priv, b""))


def test_param_type_and_optional():
    entry = registry.get(CKM.ML_DSA)
    registry.check_param(entry, None)
    registry.check_param(entry, SignAdditionalContext())
    with pytest.raises(CKRError) as e:
        registry.check_param(entry, b"\x00" * 8)
    assert e.value.rv == CKR.MECHANISM_PARAM_INVALID
    with pytest.raises(CKRError) as e:
        registry.check_param(registry.get(CKM.ML_DSA_KEY_PAIR_GEN), SignAdditionalContext())
    assert e.value.rv == CKR.MECHANISM_PARAM_INVALID


def test_signature_length_and_kinds(pair44):
    _, (pub, priv) = pair44
    sig = sign(priv, b"x")
    assert rv_of(verify, pub, b"x", sig[:-1]) == CKR.SIGNATURE_LEN_RANGE
    assert rv_of(verify, pub, b"x", sig + b"\x00") == CKR.SIGNATURE_LEN_RANGE
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    assert rv_of(verify, pub, b"x", bad) == CKR.SIGNATURE_INVALID
    op = registry.get(CKM.ML_DSA).operation
    assert rv_of(op, OpKind.ENCRYPT, pub, None) == CKR.MECHANISM_INVALID
    assert rv_of(op, OpKind.SIGN, None, None) == CKR.KEY_NEEDED
    assert op(OpKind.VERIFY, pub, None).multipart is False     # C_Verify: single-part only
    assert op(OpKind.SIGN, priv, None).multipart is True


def test_mechanism_info():
    for mech in (CKM.ML_DSA_KEY_PAIR_GEN, CKM.ML_DSA):
        e = registry.get(mech)
        assert (e.min_key_size, e.max_key_size) == (1312, 2592)    # public key bytes (v3.2)
    assert registry.get(CKM.ML_DSA).key_types == {CKK.ML_DSA}
    from strongroom.pkcs11.constants import MechanismFlag as F
    assert registry.get(CKM.ML_DSA).flags == F.SIGN | F.VERIFY
    assert registry.get(CKM.ML_DSA_KEY_PAIR_GEN).flags == F.GENERATE_KEY_PAIR
    for missing in (CKM.HASH_ML_DSA, CKM.HASH_ML_DSA_SHA256, CKM.HASH_ML_DSA_SHAKE256):
        with pytest.raises(CKRError):
            registry.get(missing)                                      # pyca has no HashML-DSA
