"""The validator: each rule with the exact CKR the spec gives."""
from __future__ import annotations

import pytest

from strongroom.pkcs11.constants import CK_UNAVAILABLE_INFORMATION, CKA, CKC, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.template import Op, Unreadable, build, copy, is_secret, readable, searchable
from strongroom.pkcs11.template import set as set_attrs

P256 = bytes.fromhex("06082a8648ce3d030107")
POINT = b"\x04\x41" + b"\x04" + b"\x01" * 64

# One valid C_CreateObject template per supported class/type.
CREATE = {
    "data": [(CKA.CLASS, CKO.DATA), (CKA.APPLICATION, "app"), (CKA.VALUE, b"v")],
    "x509": [(CKA.CLASS, CKO.CERTIFICATE), (CKA.CERTIFICATE_TYPE, CKC.X_509),
             (CKA.SUBJECT, b"0\x00"), (CKA.VALUE, b"0\x82")],
    "rsa_pub": [(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.RSA),
                (CKA.MODULUS, b"\xc1" * 256), (CKA.PUBLIC_EXPONENT, b"\x01\x00\x01")],
    "rsa_priv": [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.RSA),
                 (CKA.MODULUS, b"\xc1" * 256), (CKA.PUBLIC_EXPONENT, b"\x01\x00\x01"),
                 (CKA.PRIVATE_EXPONENT, b"\x11" * 256), (CKA.PRIME_1, b"\x13" * 128)],
    "ec_pub": [(CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, P256),
               (CKA.EC_POINT, POINT)],
    "ec_priv": [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, P256),
                (CKA.VALUE, b"\x07" * 32)],
    "aes": [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, b"k" * 32)],
    "generic": [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                (CKA.VALUE, b"h" * 20)],
}
SECRET_ATTR = {"rsa_priv": CKA.PRIVATE_EXPONENT, "ec_priv": CKA.VALUE, "aes": CKA.VALUE,
               "generic": CKA.VALUE}
KEYS = ["rsa_pub", "rsa_priv", "ec_pub", "ec_priv", "aes", "generic"]


def rv_of(fn, *args, **kw) -> int:
    with pytest.raises(CKRError) as e:
        fn(*args, **kw)
    return e.value.rv


# --- build: CREATE --------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CREATE))
def test_create_ok_fills_defaults(name):
    obj = build(CREATE[name], Op.CREATE)
    assert obj[CKA.TOKEN] is False and obj[CKA.MODIFIABLE] is True and obj[CKA.LABEL] == ""
    assert CKA.UNIQUE_ID not in obj
    if name in KEYS:
        assert obj[CKA.LOCAL] is False
        assert obj[CKA.KEY_GEN_MECHANISM] == CK_UNAVAILABLE_INFORMATION
        assert obj[CKA.ID] == b"" and CKA.ALLOWED_MECHANISMS not in obj   # absent: any mechanism
    if name in SECRET_ATTR:
        assert obj[CKA.ALWAYS_SENSITIVE] is False and obj[CKA.NEVER_EXTRACTABLE] is False
        assert obj[CKA.PRIVATE] is True and obj[CKA.EXTRACTABLE] is False


@pytest.mark.parametrize("name", sorted(CREATE))
def test_create_missing_class_incomplete(name):
    tpl = [p for p in CREATE[name] if p[0] != CKA.CLASS]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCOMPLETE


@pytest.mark.parametrize("name", KEYS)
def test_create_missing_key_type_incomplete(name):
    tpl = [p for p in CREATE[name] if p[0] != CKA.KEY_TYPE]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCOMPLETE


@pytest.mark.parametrize("name,attr", [
    ("x509", CKA.SUBJECT), ("x509", CKA.CERTIFICATE_TYPE), ("rsa_pub", CKA.MODULUS),
    ("rsa_pub", CKA.PUBLIC_EXPONENT), ("rsa_priv", CKA.PRIVATE_EXPONENT),
    ("rsa_priv", CKA.PUBLIC_EXPONENT), ("ec_pub", CKA.EC_POINT), ("ec_pub", CKA.EC_PARAMS),
    ("ec_priv", CKA.VALUE), ("aes", CKA.VALUE), ("generic", CKA.VALUE)])
def test_create_required_missing_incomplete(name, attr):
    tpl = [p for p in CREATE[name] if p[0] != attr]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCOMPLETE


def test_duplicates():
    tpl = CREATE["aes"] + [(CKA.LABEL, "a"), (CKA.LABEL, "a")]
    assert build(tpl, Op.CREATE)[CKA.LABEL] == "a"                  # same value: accepted
    tpl = CREATE["aes"] + [(CKA.LABEL, "a"), (CKA.LABEL, "b")]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCONSISTENT


@pytest.mark.parametrize("cls,rv", [
    (CKO.HW_FEATURE, CKR.TEMPLATE_INCONSISTENT),    # defined by the spec, not creatable here
    (CKO.OTP_KEY, CKR.TEMPLATE_INCONSISTENT),
    (0x1234, CKR.ATTRIBUTE_VALUE_INVALID)])          # not a spec value
def test_unsupported_class(cls, rv):
    assert rv_of(build, [(CKA.CLASS, cls)], Op.CREATE) == rv


@pytest.mark.parametrize("kt,rv", [(CKK.DES3, CKR.TEMPLATE_INCONSISTENT),
                                   (CKK.RSA, CKR.TEMPLATE_INCONSISTENT),   # RSA secret key
                                   (0x7777, CKR.ATTRIBUTE_VALUE_INVALID)])
def test_unsupported_key_type(kt, rv):
    tpl = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, kt), (CKA.VALUE, b"k" * 24)]
    assert rv_of(build, tpl, Op.CREATE) == rv


def test_unsupported_certificate_type():
    tpl = [(CKA.CLASS, CKO.CERTIFICATE), (CKA.CERTIFICATE_TYPE, CKC.WTLS)]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCONSISTENT


@pytest.mark.parametrize("name,attr,value", [
    ("data", CKA.KEY_TYPE, CKK.AES), ("aes", CKA.MODULUS, b"\x01"),
    ("rsa_pub", CKA.SIGN, True), ("ec_priv", CKA.EC_POINT, POINT),
    ("aes", CKA.SUBJECT, b""), ("x509", CKA.SENSITIVE, True), ("aes", 0x80000001, b"v")])
def test_attribute_not_of_class(name, attr, value):
    assert rv_of(build, CREATE[name] + [(attr, value)], Op.CREATE) == CKR.ATTRIBUTE_TYPE_INVALID


@pytest.mark.parametrize("attr,value", [
    (CKA.UNIQUE_ID, "x"), (CKA.LOCAL, False), (CKA.KEY_GEN_MECHANISM, CKM.AES_KEY_GEN),
    (CKA.ALWAYS_SENSITIVE, False), (CKA.NEVER_EXTRACTABLE, False)])
@pytest.mark.parametrize("op", [Op.CREATE, Op.GENERATE])
def test_token_derived_read_only(attr, value, op):
    tpl = CREATE["aes"] if op is Op.CREATE else [(CKA.VALUE_LEN, 16)]
    kw = {} if op is Op.CREATE else {"cls": CKO.SECRET_KEY, "key_type": CKK.AES}
    assert rv_of(build, [*tpl, (attr, value)], op, **kw) == CKR.ATTRIBUTE_READ_ONLY


@pytest.mark.parametrize("name,attr,value", [
    ("aes", CKA.VALUE_LEN, 32), ("rsa_pub", CKA.MODULUS_BITS, 2048)])
def test_create_must_not_specify(name, attr, value):
    assert rv_of(build, CREATE[name] + [(attr, value)], Op.CREATE) == CKR.TEMPLATE_INCONSISTENT


@pytest.mark.parametrize("attr,value", [(CKA.TOKEN, 1), (CKA.LABEL, b"x"), (CKA.CLASS, "4")])
def test_value_shape(attr, value):
    assert rv_of(build, CREATE["data"] + [(attr, value)], Op.CREATE) == CKR.ATTRIBUTE_VALUE_INVALID


def test_certificate_category_values():
    assert rv_of(build, CREATE["x509"] + [(CKA.CERTIFICATE_CATEGORY, 9)], Op.CREATE) \
        == CKR.ATTRIBUTE_VALUE_INVALID
    assert build(CREATE["x509"] + [(CKA.CERTIFICATE_CATEGORY, 2)], Op.CREATE)[CKA.CERTIFICATE_CATEGORY] == 2


def test_trusted_only_by_so():
    tpl = CREATE["x509"] + [(CKA.TRUSTED, True)]
    assert rv_of(build, tpl, Op.CREATE) == CKR.ATTRIBUTE_READ_ONLY
    assert build(tpl, Op.CREATE, so=True)[CKA.TRUSTED] is True
    assert build(CREATE["x509"] + [(CKA.TRUSTED, False)], Op.CREATE)[CKA.TRUSTED] is False


def test_always_authenticate_needs_private():
    tpl = CREATE["ec_priv"] + [(CKA.ALWAYS_AUTHENTICATE, True), (CKA.PRIVATE, False)]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCONSISTENT
    assert build(CREATE["ec_priv"] + [(CKA.ALWAYS_AUTHENTICATE, True)], Op.CREATE)[CKA.PRIVATE]


def test_x509_needs_value_or_url():
    tpl = [p for p in CREATE["x509"] if p[0] != CKA.VALUE] + [(CKA.VALUE, b"")]
    assert rv_of(build, tpl, Op.CREATE) == CKR.TEMPLATE_INCONSISTENT


def test_generate_op_refuses_data_objects():
    assert rv_of(build, CREATE["data"], Op.UNWRAP) == CKR.TEMPLATE_INCONSISTENT


# --- build: GENERATE ----------------------------------------------------------------

def gen_secret(tpl, mech=CKM.AES_KEY_GEN, kt=CKK.AES):
    return build(tpl, Op.GENERATE, cls=CKO.SECRET_KEY, key_type=kt, mechanism=mech)


def test_generate_secret_derived_flags():
    k = gen_secret([(CKA.VALUE_LEN, 32), (CKA.SENSITIVE, True)])
    assert k[CKA.LOCAL] is True and k[CKA.KEY_GEN_MECHANISM] == CKM.AES_KEY_GEN
    assert k[CKA.ALWAYS_SENSITIVE] is True and k[CKA.NEVER_EXTRACTABLE] is True
    k = gen_secret([(CKA.VALUE_LEN, 32), (CKA.EXTRACTABLE, True)])
    assert k[CKA.ALWAYS_SENSITIVE] is False and k[CKA.NEVER_EXTRACTABLE] is False


def test_generate_keypair_halves():
    mech = CKM.EC_KEY_PAIR_GEN
    pub = build([(CKA.EC_PARAMS, P256), (CKA.VERIFY, True)], Op.GENERATE,
                cls=CKO.PUBLIC_KEY, key_type=CKK.EC, mechanism=mech)
    priv = build([(CKA.SIGN, True), (CKA.ID, b"\x01")], Op.GENERATE,
                 cls=CKO.PRIVATE_KEY, key_type=CKK.EC, mechanism=mech)
    assert pub[CKA.CLASS] == CKO.PUBLIC_KEY and pub[CKA.PRIVATE] is False
    assert priv[CKA.SENSITIVE] is True and priv[CKA.ALWAYS_SENSITIVE] is True
    assert priv[CKA.NEVER_EXTRACTABLE] is True and priv[CKA.LOCAL] is True
    assert CKA.VALUE not in priv


@pytest.mark.parametrize("attr,value", [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.RSA)])
def test_generate_template_contradicts_mechanism(attr, value):
    tpl = [(CKA.EC_PARAMS, P256), (attr, value)]
    assert rv_of(build, tpl, Op.GENERATE, cls=CKO.PUBLIC_KEY, key_type=CKK.EC) \
        == CKR.TEMPLATE_INCONSISTENT


def test_generate_restating_implied_values_is_fine():
    tpl = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE_LEN, 16)]
    assert gen_secret(tpl)[CKA.KEY_TYPE] == CKK.AES


@pytest.mark.parametrize("cls,kt,tpl", [
    (CKO.SECRET_KEY, CKK.AES, [(CKA.VALUE_LEN, 16), (CKA.VALUE, b"k" * 16)]),
    (CKO.PUBLIC_KEY, CKK.RSA, [(CKA.MODULUS_BITS, 2048), (CKA.MODULUS, b"\x01")]),
    (CKO.PRIVATE_KEY, CKK.EC, [(CKA.EC_PARAMS, P256)]),          # EC params go in the public half
    (CKO.PRIVATE_KEY, CKK.RSA, [(CKA.PRIME_1, b"\x01")]),
    (CKO.PUBLIC_KEY, CKK.EC, [(CKA.EC_PARAMS, P256), (CKA.EC_POINT, POINT)])])
def test_generate_must_not_specify(cls, kt, tpl):
    assert rv_of(build, tpl, Op.GENERATE, cls=cls, key_type=kt) == CKR.TEMPLATE_INCONSISTENT


@pytest.mark.parametrize("cls,kt,tpl", [
    (CKO.SECRET_KEY, CKK.AES, []), (CKO.SECRET_KEY, CKK.GENERIC_SECRET, []),
    (CKO.PUBLIC_KEY, CKK.RSA, [(CKA.PUBLIC_EXPONENT, b"\x03")]),
    (CKO.PUBLIC_KEY, CKK.EC, [])])
def test_generate_required_missing(cls, kt, tpl):
    assert rv_of(build, tpl, Op.GENERATE, cls=cls, key_type=kt) == CKR.TEMPLATE_INCOMPLETE


def test_generate_without_key_type_incomplete():
    assert rv_of(build, [(CKA.VALUE_LEN, 16)], Op.GENERATE, cls=CKO.SECRET_KEY) \
        == CKR.TEMPLATE_INCOMPLETE


# --- build: UNWRAP / DERIVE ---------------------------------------------------------

def test_unwrap_defaults_and_flags():
    k = build([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES)], Op.UNWRAP)
    assert k[CKA.EXTRACTABLE] is True                   # C_UnwrapKey default
    assert k[CKA.LOCAL] is False and k[CKA.ALWAYS_SENSITIVE] is False
    assert k[CKA.NEVER_EXTRACTABLE] is False


def test_unwrap_rules():
    assert rv_of(build, [(CKA.CLASS, CKO.SECRET_KEY)], Op.UNWRAP) == CKR.TEMPLATE_INCOMPLETE
    tpl = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, b"k" * 16)]
    assert rv_of(build, tpl, Op.UNWRAP) == CKR.TEMPLATE_INCONSISTENT


@pytest.mark.parametrize("base_as,base_ne,sens,extr,exp_as,exp_ne", [
    (True, True, True, False, True, True),
    (True, True, False, True, False, False),
    (False, False, True, False, False, False),
    (True, False, True, False, True, False)])
def test_derive_flags_follow_base(base_as, base_ne, sens, extr, exp_as, exp_ne):
    base = {CKA.ALWAYS_SENSITIVE: base_as, CKA.NEVER_EXTRACTABLE: base_ne}
    k = build([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
               (CKA.SENSITIVE, sens), (CKA.EXTRACTABLE, extr)], Op.DERIVE, base=base,
              mechanism=CKM.ECDH1_DERIVE)
    assert (k[CKA.ALWAYS_SENSITIVE], k[CKA.NEVER_EXTRACTABLE]) == (exp_as, exp_ne)
    assert k[CKA.LOCAL] is False and k[CKA.KEY_GEN_MECHANISM] == CK_UNAVAILABLE_INFORMATION


def test_derive_refuses_value():
    tpl = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, b"k" * 16)]
    assert rv_of(build, tpl, Op.DERIVE) == CKR.TEMPLATE_INCONSISTENT


# --- copy -----------------------------------------------------------------------------

def test_copy_changes_token_and_private_and_drops_unique_id():
    obj = build(CREATE["aes"], Op.CREATE) | {CKA.UNIQUE_ID: "u1"}
    new = copy(obj, [(CKA.TOKEN, True), (CKA.PRIVATE, False), (CKA.LABEL, "c")])
    assert new[CKA.TOKEN] is True and new[CKA.PRIVATE] is False and new[CKA.LABEL] == "c"
    assert CKA.UNIQUE_ID not in new and new[CKA.VALUE] == obj[CKA.VALUE]


def test_copy_not_copyable():
    obj = build(CREATE["data"] + [(CKA.COPYABLE, False)], Op.CREATE)
    assert rv_of(copy, obj, []) == CKR.ACTION_PROHIBITED


def test_copy_sensitive_and_extractable_monotonic():
    k = gen_secret([(CKA.VALUE_LEN, 16), (CKA.EXTRACTABLE, True)])
    c = copy(k, [(CKA.SENSITIVE, True), (CKA.EXTRACTABLE, False)])
    assert c[CKA.SENSITIVE] is True and c[CKA.ALWAYS_SENSITIVE] is False   # kept from original
    assert c[CKA.NEVER_EXTRACTABLE] is False and c[CKA.LOCAL] is True
    s = gen_secret([(CKA.VALUE_LEN, 16), (CKA.SENSITIVE, True)])
    assert rv_of(copy, s, [(CKA.SENSITIVE, False)]) == CKR.ATTRIBUTE_READ_ONLY
    assert rv_of(copy, s, [(CKA.EXTRACTABLE, True)]) == CKR.ATTRIBUTE_READ_ONLY


@pytest.mark.parametrize("attr,value,rv", [
    (CKA.KEY_TYPE, CKK.GENERIC_SECRET, CKR.ATTRIBUTE_READ_ONLY),
    (CKA.VALUE, b"x" * 16, CKR.ATTRIBUTE_READ_ONLY),
    (CKA.ALLOWED_MECHANISMS, (CKM.AES_GCM,), CKR.ATTRIBUTE_READ_ONLY),
    (CKA.LOCAL, False, CKR.ATTRIBUTE_READ_ONLY),
    (CKA.UNIQUE_ID, "x", CKR.ATTRIBUTE_READ_ONLY),
    (CKA.MODULUS, b"\x01", CKR.ATTRIBUTE_TYPE_INVALID)])
def test_copy_refusals(attr, value, rv):
    obj = build(CREATE["aes"], Op.CREATE)
    assert rv_of(copy, obj, [(attr, value)]) == rv


def test_copy_restating_class_is_fine():
    obj = build(CREATE["aes"], Op.CREATE)
    assert copy(obj, [(CKA.CLASS, CKO.SECRET_KEY)])[CKA.CLASS] == CKO.SECRET_KEY


def test_copy_always_authenticate_constraint():
    obj = build(CREATE["ec_priv"] + [(CKA.ALWAYS_AUTHENTICATE, True)], Op.CREATE)
    assert rv_of(copy, obj, [(CKA.PRIVATE, False)]) == CKR.TEMPLATE_INCONSISTENT


# --- set --------------------------------------------------------------------------------

def test_set_label_and_usage():
    obj = build(CREATE["rsa_priv"], Op.CREATE)
    assert set_attrs(obj, [(CKA.LABEL, "renamed"), (CKA.SIGN, False), (CKA.ID, b"\x02")]) == {
        CKA.LABEL: "renamed", CKA.SIGN: False, CKA.ID: b"\x02"}
    assert set_attrs(obj, [(CKA.LABEL, "")]) == {}       # unchanged values are not returned


def test_set_not_modifiable_object():
    obj = build(CREATE["data"] + [(CKA.MODIFIABLE, False)], Op.CREATE)
    assert rv_of(set_attrs, obj, [(CKA.LABEL, "x")]) == CKR.ACTION_PROHIBITED


@pytest.mark.parametrize("name,attr,value,rv", [
    ("aes", CKA.VALUE, b"z" * 32, CKR.ATTRIBUTE_READ_ONLY),
    ("aes", CKA.KEY_TYPE, CKK.GENERIC_SECRET, CKR.ATTRIBUTE_READ_ONLY),
    ("aes", CKA.TOKEN, True, CKR.ATTRIBUTE_READ_ONLY),            # copy only
    ("aes", CKA.PRIVATE, False, CKR.ATTRIBUTE_READ_ONLY),
    ("aes", CKA.ALLOWED_MECHANISMS, (CKM.AES_GCM,), CKR.ATTRIBUTE_READ_ONLY),
    ("aes", CKA.UNIQUE_ID, "x", CKR.ATTRIBUTE_READ_ONLY),
    ("aes", CKA.NEVER_EXTRACTABLE, True, CKR.ATTRIBUTE_READ_ONLY),
    ("ec_pub", CKA.EC_POINT, POINT[:-1], CKR.ATTRIBUTE_READ_ONLY),
    ("data", CKA.VALUE, b"new", CKR.ATTRIBUTE_READ_ONLY),
    ("x509", CKA.SUBJECT, b"1", CKR.ATTRIBUTE_READ_ONLY),
    ("x509", CKA.CERTIFICATE_CATEGORY, 1, CKR.ATTRIBUTE_READ_ONLY),
    ("ec_pub", CKA.SIGN, True, CKR.ATTRIBUTE_TYPE_INVALID),
    ("aes", CKA.LABEL, 3, CKR.ATTRIBUTE_VALUE_INVALID)])
def test_set_refusals(name, attr, value, rv):
    obj = build(CREATE[name], Op.CREATE)
    assert rv_of(set_attrs, obj, [(attr, value)]) == rv


def test_set_x509_modifiable():
    obj = build(CREATE["x509"], Op.CREATE)
    assert set_attrs(obj, [(CKA.ID, b"\x09"), (CKA.ISSUER, b"0"), (CKA.SERIAL_NUMBER, b"\x02\x01\x01")])


@pytest.mark.parametrize("name", ["aes", "generic", "rsa_priv", "ec_priv"])
def test_set_monotonic_flags(name):
    obj = build(CREATE[name] + [(CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)], Op.CREATE)
    assert set_attrs(obj, [(CKA.SENSITIVE, True)]) == {CKA.SENSITIVE: True}
    assert set_attrs(obj, [(CKA.EXTRACTABLE, False)]) == {CKA.EXTRACTABLE: False}
    assert set_attrs(obj, [(CKA.WRAP_WITH_TRUSTED, True)]) == {CKA.WRAP_WITH_TRUSTED: True}
    hard = obj | {CKA.SENSITIVE: True, CKA.EXTRACTABLE: False, CKA.WRAP_WITH_TRUSTED: True}
    for attr, value in ((CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True), (CKA.WRAP_WITH_TRUSTED, False)):
        assert rv_of(set_attrs, hard, [(attr, value)]) == CKR.ATTRIBUTE_READ_ONLY


def test_set_copyable_only_lowered():
    obj = build(CREATE["data"], Op.CREATE)
    assert set_attrs(obj, [(CKA.COPYABLE, False)]) == {CKA.COPYABLE: False}
    assert rv_of(set_attrs, obj | {CKA.COPYABLE: False}, [(CKA.COPYABLE, True)]) == CKR.ATTRIBUTE_READ_ONLY


@pytest.mark.parametrize("name", ["aes", "rsa_pub", "x509"])
def test_set_trusted_only_by_so(name):
    obj = build(CREATE[name], Op.CREATE)
    assert rv_of(set_attrs, obj, [(CKA.TRUSTED, True)]) == CKR.ATTRIBUTE_READ_ONLY
    assert set_attrs(obj, [(CKA.TRUSTED, True)], so=True) == {CKA.TRUSTED: True}


def test_trusted_certificate_frozen_for_users():
    cert = build(CREATE["x509"] + [(CKA.TRUSTED, True)], Op.CREATE, so=True)
    assert rv_of(set_attrs, cert, [(CKA.LABEL, "x")]) == CKR.ACTION_PROHIBITED
    assert set_attrs(cert, [(CKA.LABEL, "x")], so=True) == {CKA.LABEL: "x"}


def test_set_always_authenticate_never_modifiable():
    obj = build(CREATE["ec_priv"], Op.CREATE)
    assert rv_of(set_attrs, obj, [(CKA.ALWAYS_AUTHENTICATE, True)]) == CKR.ATTRIBUTE_READ_ONLY


# --- readable / is_secret / searchable -------------------------------------------------

@pytest.mark.parametrize("name", sorted(SECRET_ATTR))
@pytest.mark.parametrize("sensitive,extractable,visible", [
    (True, True, False), (False, False, False), (True, False, False), (False, True, True)])
def test_secret_attributes_hidden(name, sensitive, extractable, visible):
    obj = build(CREATE[name] + [(CKA.SENSITIVE, sensitive), (CKA.EXTRACTABLE, extractable)],
                Op.CREATE)
    got = readable(obj, SECRET_ATTR[name])
    if visible:
        assert got == dict(CREATE[name])[SECRET_ATTR[name]]
    else:
        assert got is Unreadable.SENSITIVE


@pytest.mark.parametrize("name", sorted(SECRET_ATTR))
def test_defaults_hide_secrets(name):
    obj = build(CREATE[name], Op.CREATE)
    assert readable(obj, SECRET_ATTR[name]) is Unreadable.SENSITIVE
    assert is_secret(obj, SECRET_ATTR[name])
    assert not searchable(SECRET_ATTR[name], obj)


def test_absent_secret_of_sensitive_key_reports_sensitive():
    obj = build(CREATE["rsa_priv"], Op.CREATE)
    assert readable(obj, CKA.COEFFICIENT) is Unreadable.SENSITIVE


@pytest.mark.parametrize("name,attr", [
    ("aes", CKA.MODULUS), ("data", CKA.KEY_TYPE), ("ec_pub", CKA.VALUE), ("aes", 0x80000009),
    ("x509", CKA.NAME_HASH_ALGORITHM), ("aes", CKA.UNIQUE_ID)])
def test_readable_invalid(name, attr):
    assert readable(build(CREATE[name], Op.CREATE), attr) is Unreadable.INVALID


def test_readable_public_values():
    obj = build(CREATE["ec_pub"], Op.CREATE) | {CKA.UNIQUE_ID: "7"}
    assert readable(obj, CKA.EC_POINT) == POINT
    assert readable(obj, CKA.UNIQUE_ID) == "7"
    assert readable(obj, CKA.ALLOWED_MECHANISMS) is Unreadable.INVALID   # absent unless given
    assert not is_secret(obj, CKA.EC_POINT)


def test_searchable():
    for a in (CKA.CLASS, CKA.LABEL, CKA.ID, CKA.UNIQUE_ID, CKA.SUBJECT, CKA.EC_POINT):
        assert searchable(a)
    assert not searchable(CKA.VALUE)                  # secret for some classes
    assert not searchable(CKA.PRIVATE_EXPONENT)
    assert not searchable(CKA.SIGN)
    cert = build(CREATE["x509"], Op.CREATE)
    assert searchable(CKA.VALUE, cert)
    assert not searchable(CKA.VALUE, build(CREATE["aes"], Op.CREATE))


def test_unknown_object_treated_as_secret():
    assert is_secret({CKA.CLASS: CKO.HW_FEATURE}, CKA.VALUE)
