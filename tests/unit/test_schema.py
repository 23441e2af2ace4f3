"""The attribute tables themselves: composition, footnotes, token choices."""
from __future__ import annotations

from types import MappingProxyType

import pytest

from strongroom.pkcs11 import schema, template
from strongroom.pkcs11.constants import CKA, CKC, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.schema import NO_DEFAULT, Op, Sticky, rules_for

ALL = [(CKO.DATA, None), (CKO.CERTIFICATE, CKC.X_509)] + [
    (cls, kt) for kt, rows in schema.KEY_TYPES.items() for cls in rows]
KEYS = [p for p in ALL if p[0] in schema.KEY_CLASSES]


@pytest.mark.parametrize("cls,sub", ALL)
def test_common_and_storage_rows_everywhere(cls, sub):
    t = rules_for(cls, sub)
    for a in (CKA.CLASS, CKA.UNIQUE_ID, CKA.TOKEN, CKA.PRIVATE, CKA.MODIFIABLE, CKA.LABEL,
              CKA.COPYABLE, CKA.DESTROYABLE):
        assert a in t
    assert t[CKA.UNIQUE_ID].token_derived
    assert t[CKA.TOKEN].default is False
    assert t[CKA.MODIFIABLE].default is True and t[CKA.COPYABLE].default is True
    assert t[CKA.LABEL].default == "" and t[CKA.LABEL].modifiable


@pytest.mark.parametrize("cls,sub", KEYS)
def test_key_rows(cls, sub):
    t = rules_for(cls, sub)
    for a in (CKA.LOCAL, CKA.KEY_GEN_MECHANISM):
        assert t[a].token_derived
    assert t[CKA.ID].default == b""
    assert t[CKA.ALLOWED_MECHANISMS].default is NO_DEFAULT   # absent: any mechanism
    assert t[CKA.DERIVE].default is False


@pytest.mark.parametrize("cls,private_default", [
    (CKO.PUBLIC_KEY, False), (CKO.PRIVATE_KEY, True), (CKO.SECRET_KEY, True),
    (CKO.DATA, False), (CKO.CERTIFICATE, False)])
def test_private_defaults(cls, private_default):
    sub = {CKO.DATA: None, CKO.CERTIFICATE: CKC.X_509, CKO.SECRET_KEY: CKK.AES}.get(cls, CKK.EC)
    assert rules_for(cls, sub)[CKA.PRIVATE].default is private_default


def test_sensitive_extractable_defaults_and_stickiness():
    priv, sec = rules_for(CKO.PRIVATE_KEY, CKK.RSA), rules_for(CKO.SECRET_KEY, CKK.AES)
    assert priv[CKA.SENSITIVE].default is True          # token choice (footnote 9)
    assert sec[CKA.SENSITIVE].default is False          # spec default for secret keys
    for t in (priv, sec):
        assert t[CKA.SENSITIVE].sticky is Sticky.TRUE
        assert t[CKA.EXTRACTABLE].sticky is Sticky.FALSE
        assert t[CKA.EXTRACTABLE].default is False
        assert t[CKA.EXTRACTABLE].default_for(Op.UNWRAP) is True   # C_UnwrapKey default
        assert t[CKA.WRAP_WITH_TRUSTED].sticky is Sticky.TRUE
        assert t[CKA.ALWAYS_SENSITIVE].token_derived and t[CKA.NEVER_EXTRACTABLE].token_derived


SECRETS = {
    (CKO.PRIVATE_KEY, CKK.RSA): {CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2,
                                 CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT},
    (CKO.PRIVATE_KEY, CKK.EC): {CKA.VALUE},
    (CKO.SECRET_KEY, CKK.AES): {CKA.VALUE},
    (CKO.SECRET_KEY, CKK.GENERIC_SECRET): {CKA.VALUE},
    # symmetric key types of issue 4: HMAC per-hash types, HKDF, ChaCha20
    **{(CKO.SECRET_KEY, kt): {CKA.VALUE} for kt in (
        CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC, CKK.SHA384_HMAC, CKK.SHA512_HMAC,
        CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC,
        CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF, CKK.CHACHA20)},
    (CKO.PUBLIC_KEY, CKK.RSA): set(),
    (CKO.PUBLIC_KEY, CKK.EC): set(),
    (CKO.PRIVATE_KEY, CKK.EC_EDWARDS): {CKA.VALUE},
    (CKO.PUBLIC_KEY, CKK.EC_EDWARDS): set(),
    (CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY): {CKA.VALUE},
    (CKO.PUBLIC_KEY, CKK.EC_MONTGOMERY): set(),
    (CKO.PRIVATE_KEY, CKK.ML_DSA): {CKA.SEED, CKA.VALUE},
    (CKO.PUBLIC_KEY, CKK.ML_DSA): set(),
    (CKO.PRIVATE_KEY, CKK.ML_KEM): {CKA.SEED, CKA.VALUE},
    (CKO.PUBLIC_KEY, CKK.ML_KEM): set(),
    (CKO.DATA, None): set(),
    (CKO.CERTIFICATE, CKC.X_509): set(),
}


@pytest.mark.parametrize("cls,sub", ALL)
def test_sensitive_column_is_exactly_the_key_material(cls, sub):
    t = rules_for(cls, sub)
    assert {a for a, r in t.items() if r.sensitive} == SECRETS[(cls, sub)]


def test_footnotes_on_material():
    rsa_pub = rules_for(CKO.PUBLIC_KEY, CKK.RSA)
    assert rsa_pub[CKA.MODULUS_BITS].forbidden_on_create and rsa_pub[CKA.MODULUS_BITS].required_on_generate
    assert rsa_pub[CKA.MODULUS].required_on_create and rsa_pub[CKA.MODULUS].forbidden_on_generate
    ec_pub = rules_for(CKO.PUBLIC_KEY, CKK.EC)
    assert ec_pub[CKA.EC_PARAMS].required_on_generate
    ec_priv = rules_for(CKO.PRIVATE_KEY, CKK.EC)
    assert ec_priv[CKA.EC_PARAMS].forbidden_on_generate and ec_priv[CKA.VALUE].forbidden_on_unwrap
    aes = rules_for(CKO.SECRET_KEY, CKK.AES)
    assert aes[CKA.VALUE_LEN].forbidden_on_create and aes[CKA.VALUE_LEN].required_on_generate


def test_unsupported_combinations():
    assert rules_for(CKO.PUBLIC_KEY, CKK.AES) is None
    assert rules_for(CKO.SECRET_KEY, CKK.RSA) is None
    assert rules_for(CKO.HW_FEATURE, None) is None
    assert rules_for(CKO.CERTIFICATE, CKC.WTLS) is None


def test_x509_modifiable_set_matches_spec():
    t = rules_for(CKO.CERTIFICATE, CKC.X_509)
    assert {a for a, r in t.items() if r.modifiable} == {
        CKA.LABEL, CKA.COPYABLE, CKA.TRUSTED, CKA.ID, CKA.ISSUER, CKA.SERIAL_NUMBER}


def test_adding_a_key_type_is_one_table(monkeypatch):
    """EC_EDWARDS has the EC tables' shape (Edwards key object tables): data only."""
    rows = {
        CKO.PUBLIC_KEY: {CKA.EC_PARAMS: schema.R(required_on_create=True, required_on_generate=True),
                         CKA.EC_POINT: schema.MATERIAL},
        CKO.PRIVATE_KEY: {CKA.EC_PARAMS: schema.PRIV_MATERIAL, CKA.VALUE: schema.SECRET},
    }
    monkeypatch.setattr(schema, "KEY_TYPES", MappingProxyType({**schema.KEY_TYPES, CKK.EC_EDWARDS: rows}))
    monkeypatch.setattr(schema, "_CACHE", {})
    pub = template.build([(CKA.EC_PARAMS, b"\x06\x03\x2b\x65\x70")], Op.GENERATE,
                         cls=CKO.PUBLIC_KEY, key_type=CKK.EC_EDWARDS,
                         mechanism=CKM.EC_EDWARDS_KEY_PAIR_GEN)
    assert pub[CKA.KEY_GEN_MECHANISM] == CKM.EC_EDWARDS_KEY_PAIR_GEN
    priv = template.build([(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC_EDWARDS),
                           (CKA.EC_PARAMS, b"\x06\x03\x2b\x65\x70"), (CKA.VALUE, b"k" * 32)],
                          Op.CREATE)
    assert template.readable(priv, CKA.VALUE) is template.Unreadable.SENSITIVE


def test_edwards_needs_its_material():
    with pytest.raises(CKRError) as e:
        template.build([(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.EC_EDWARDS)], Op.CREATE)
    assert e.value.rv == CKR.TEMPLATE_INCOMPLETE
