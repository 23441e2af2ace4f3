"""Edwards (Ed25519/Ed448) and Montgomery (X25519/X448) keys and CKM_EDDSA: RFC 8032
vectors (pyca's sign.input and rfc8032.txt), key generation, import, parameters."""
from __future__ import annotations

import os

import pytest

import strongroom.mechanisms  # noqa: F401
from asym_kat import ASYM, Key, rsp_records, run, rv_of
from strongroom.mechanisms import ecparams, registry
from strongroom.mechanisms.keys import key_size, normalize_key_attrs
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.params import EddsaParams

ED25519 = bytes.fromhex("06032b6570")
ED448 = bytes.fromhex("06032b6571")
X25519 = bytes.fromhex("06032b656e")
X448 = bytes.fromhex("06032b656f")


def printable(name):
    return ecparams.der_tlv(ecparams.TAG_PRINTABLE_STRING, name.encode())


def keys(params, secret, public, key_type=CKK.EC_EDWARDS):
    priv = {CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: key_type, CKA.EC_PARAMS: params, CKA.VALUE: secret}
    pub = {CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: key_type, CKA.EC_PARAMS: params, CKA.EC_POINT: public}
    priv.update(normalize_key_attrs(CKO.PRIVATE_KEY, key_type, priv))
    pub.update(normalize_key_attrs(CKO.PUBLIC_KEY, key_type, pub))
    return Key(priv), Key(pub)


def _ed25519_vectors():
    with open(os.path.join(ASYM, "Ed25519", "sign.input")) as f:
        lines = f.read().splitlines()
    return [pytest.param(ln, id=f"ed25519-{i}") for i, ln in enumerate(lines) if i % 4 == 0]


@pytest.mark.parametrize("line", _ed25519_vectors())
def test_ed25519_rfc8032(line):
    sk_pk, pk, msg, sig_msg, _ = line.split(":")
    sk, pk, msg = bytes.fromhex(sk_pk)[:32], bytes.fromhex(pk), bytes.fromhex(msg)
    signature = bytes.fromhex(sig_msg)[:64]
    # raw CKA_EC_POINT on input (field notes), the OID form of CKA_EC_PARAMS
    priv, pub = keys(ED25519, sk, pk)
    assert pub.attrs[CKA.EC_POINT] == b"\x04\x20" + pk       # stored in the spec's DER form
    assert run(CKM.EDDSA, OpKind.SIGN, priv, [msg]) == signature
    run(CKM.EDDSA, OpKind.VERIFY, pub, [msg], signature=signature)
    bad = bytes([signature[0] ^ 1]) + signature[1:]
    assert rv_of(run, CKM.EDDSA, OpKind.VERIFY, pub, [msg], signature=bad) == CKR.SIGNATURE_INVALID


@pytest.mark.parametrize("v", rsp_records("asymmetric/Ed448/rfc8032.txt", "SIGNATURE"),
                         ids=lambda v: f"ed448-{v['COUNT']}")
def test_ed448_rfc8032(v):
    priv, pub = keys(printable("edwards448"), bytes.fromhex(v["SECRET"]),
                     b"\x04\x39" + bytes.fromhex(v["PUBLIC"]))
    msg, signature = bytes.fromhex(v.get("MESSAGE", "")), bytes.fromhex(v["SIGNATURE"])
    if v.get("CONTEXT"):
        # Ed448 with a context: pyca/cryptography cannot compute it
        param = EddsaParams(ph_flag=False, context=bytes.fromhex(v["CONTEXT"]))
        assert rv_of(run, CKM.EDDSA, OpKind.SIGN, priv, [msg], param) == CKR.MECHANISM_PARAM_INVALID
        return
    assert run(CKM.EDDSA, OpKind.SIGN, priv, [msg], EddsaParams()) == signature
    run(CKM.EDDSA, OpKind.VERIFY, pub, [msg], EddsaParams(), signature=signature)
    for kind in (OpKind.SIGN, OpKind.VERIFY):      # the parameter is mandatory for Ed448
        key = priv if kind is OpKind.SIGN else pub
        assert rv_of(registry.get(CKM.EDDSA).operation, kind, key, None) == CKR.MECHANISM_PARAM_INVALID


@pytest.mark.parametrize("params,key_type,length", [
    (ED25519, CKK.EC_EDWARDS, 32), (printable("edwards25519"), CKK.EC_EDWARDS, 32),
    (bytes.fromhex("06092b06010401da470f01"), CKK.EC_EDWARDS, 32),     # GnuPG-era OID
    (ED448, CKK.EC_EDWARDS, 57), (printable("edwards448"), CKK.EC_EDWARDS, 57),
    (X25519, CKK.EC_MONTGOMERY, 32), (printable("curve25519"), CKK.EC_MONTGOMERY, 32),
    (X448, CKK.EC_MONTGOMERY, 56), (printable("curve448"), CKK.EC_MONTGOMERY, 56),
])
def test_generate(params, key_type, length):
    mech = CKM.EC_EDWARDS_KEY_PAIR_GEN if key_type == CKK.EC_EDWARDS else CKM.EC_MONTGOMERY_KEY_PAIR_GEN
    entry = registry.get(mech)
    assert entry.gen_key_type == key_type
    pub, priv = entry.generate_pair(None, {CKA.EC_PARAMS: params}, {})
    assert pub[CKA.KEY_TYPE] == priv[CKA.KEY_TYPE] == key_type
    assert pub[CKA.EC_POINT] == bytes([4, length]) + pub[CKA.EC_POINT][2:] and len(pub[CKA.EC_POINT]) == length + 2
    assert len(priv[CKA.VALUE]) == length and priv[CKA.EC_PARAMS] == params
    assert pub[CKA.PUBLIC_KEY_INFO] == priv[CKA.PUBLIC_KEY_INFO]
    assert key_size({**priv}) == (255 if length == 32 else 448)
    if key_type == CKK.EC_EDWARDS:
        pk = Key({**pub, CKA.EC_PARAMS: params})
        param = EddsaParams() if length == 57 else None      # mandatory for Ed448 only
        signature = run(CKM.EDDSA, OpKind.SIGN, Key(priv), [b"abc"], param)
        run(CKM.EDDSA, OpKind.VERIFY, pk, [b"abc"], param, signature=signature)


@pytest.mark.parametrize("mech,params,rv", [
    (CKM.EC_EDWARDS_KEY_PAIR_GEN, X25519, CKR.CURVE_NOT_SUPPORTED),       # Montgomery is not Edwards
    (CKM.EC_MONTGOMERY_KEY_PAIR_GEN, ED25519, CKR.CURVE_NOT_SUPPORTED),
    (CKM.EC_EDWARDS_KEY_PAIR_GEN, bytes.fromhex("06082a8648ce3d030107"), CKR.CURVE_NOT_SUPPORTED),
    (CKM.EC_EDWARDS_KEY_PAIR_GEN, b"\x06\x03\x2b", CKR.ATTRIBUTE_VALUE_INVALID),
    (CKM.EC_EDWARDS_KEY_PAIR_GEN, None, CKR.TEMPLATE_INCOMPLETE),
])
def test_generate_errors(mech, params, rv):
    pub = {} if params is None else {CKA.EC_PARAMS: params}
    assert rv_of(registry.get(mech).generate_pair, None, pub, {}) == rv


def test_generate_inconsistent_params():
    entry = registry.get(CKM.EC_EDWARDS_KEY_PAIR_GEN)
    assert rv_of(entry.generate_pair, None, {CKA.EC_PARAMS: ED25519},
                 {CKA.EC_PARAMS: ED448}) == CKR.TEMPLATE_INCONSISTENT


@pytest.fixture(scope="module")
def ed25519_pair():
    pub, priv = registry.get(CKM.EC_EDWARDS_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: ED25519}, {})
    return Key(priv), Key({**pub, CKA.EC_PARAMS: ED25519})


@pytest.mark.parametrize("param", [EddsaParams(), EddsaParams(ph_flag=True), EddsaParams(context=b"x"), b"junk"])
def test_ed25519_variants_pyca_lacks(ed25519_pair, param):
    priv, _ = ed25519_pair
    assert rv_of(registry.get(CKM.EDDSA).operation, OpKind.SIGN, priv, param) == CKR.MECHANISM_PARAM_INVALID


def test_ed448_prehash_refused():
    _pub, priv = registry.get(CKM.EC_EDWARDS_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: ED448}, {})
    assert rv_of(registry.get(CKM.EDDSA).operation, OpKind.SIGN, Key(priv),
                 EddsaParams(ph_flag=True)) == CKR.MECHANISM_PARAM_INVALID


def test_eddsa_lengths_and_single_part(ed25519_pair):
    priv, pub = ed25519_pair
    op = registry.get(CKM.EDDSA).operation(OpKind.SIGN, priv, None)
    assert op.multipart is False
    for bad in (b"", b"\0" * 63, b"\0" * 65):
        assert rv_of(run, CKM.EDDSA, OpKind.VERIFY, pub, [b"m"], signature=bad) == CKR.SIGNATURE_LEN_RANGE


def test_eddsa_refuses_montgomery_key():
    _pub, priv = registry.get(CKM.EC_MONTGOMERY_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: X25519}, {})
    assert rv_of(registry.get(CKM.EDDSA).operation, OpKind.SIGN, Key(priv), None) == CKR.KEY_TYPE_INCONSISTENT


def test_mechanism_info():
    for mech in (CKM.EC_EDWARDS_KEY_PAIR_GEN, CKM.EC_MONTGOMERY_KEY_PAIR_GEN, CKM.EDDSA):
        e = registry.get(mech)
        assert (e.min_key_size, e.max_key_size) == (255, 448)
        assert e.flags & F.EC_OID and e.flags & F.EC_CURVENAME and not e.flags & F.HW
    assert registry.get(CKM.EDDSA).key_types == {CKK.EC_EDWARDS}
    assert registry.get(CKM.EDDSA).param_optional


def test_import_forms_and_errors():
    pub, priv = registry.get(CKM.EC_EDWARDS_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: ED25519}, {})
    raw = pub[CKA.EC_POINT][2:]
    for form in (raw, pub[CKA.EC_POINT]):
        out = normalize_key_attrs(CKO.PUBLIC_KEY, CKK.EC_EDWARDS, {CKA.EC_PARAMS: ED25519, CKA.EC_POINT: form})
        assert out[CKA.EC_POINT] == pub[CKA.EC_POINT] and out[CKA.PUBLIC_KEY_INFO] == pub[CKA.PUBLIC_KEY_INFO]
    for bad, rv in ((raw[:-1], CKR.ATTRIBUTE_VALUE_INVALID), (b"\x04\x21" + raw + b"\0", CKR.ATTRIBUTE_VALUE_INVALID)):
        assert rv_of(normalize_key_attrs, CKO.PUBLIC_KEY, CKK.EC_EDWARDS,
                     {CKA.EC_PARAMS: ED25519, CKA.EC_POINT: bad}) == rv
    assert rv_of(normalize_key_attrs, CKO.PUBLIC_KEY, CKK.EC_EDWARDS,
                 {CKA.EC_PARAMS: ED25519}) == CKR.TEMPLATE_INCOMPLETE
    assert rv_of(normalize_key_attrs, CKO.PUBLIC_KEY, CKK.EC_MONTGOMERY,
                 {CKA.EC_PARAMS: ED25519, CKA.EC_POINT: raw}) == CKR.CURVE_NOT_SUPPORTED
    out = normalize_key_attrs(CKO.PRIVATE_KEY, CKK.EC_EDWARDS,
                              {CKA.EC_PARAMS: ED25519, CKA.VALUE: b"\x04\x20" + priv[CKA.VALUE]})
    assert out[CKA.VALUE] == priv[CKA.VALUE] and out[CKA.PUBLIC_KEY_INFO] == pub[CKA.PUBLIC_KEY_INFO]
    assert rv_of(normalize_key_attrs, CKO.PRIVATE_KEY, CKK.EC_EDWARDS,
                 {CKA.EC_PARAMS: ED25519, CKA.VALUE: b"\1" * 31}) == CKR.ATTRIBUTE_VALUE_INVALID
