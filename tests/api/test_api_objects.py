"""Finding objects by label, id, type and pkcs11: URI; ObjectRef; destroy; Token.sign & co."""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from strongroom.api import AmbiguousMatch, ObjectNotFound, StrongroomError, Unsupported
from strongroom.uri import build, parse


@pytest.fixture(scope="module")
def pair(token):
    return token.generate_key_pair("ec:p256", label="findme", id=b"\xaa\x01")


def test_find_by_label_id_type_and_uri(token, pair):
    priv, pub = pair
    assert {r.handle for r in token.objects("findme")} == {priv.handle, pub.handle}
    assert token.find("findme", type="private").handle == priv.handle
    assert token.find(id=b"\xaa\x01", type="public").handle == pub.handle
    assert token.find("pkcs11:object=findme;type=public").handle == pub.handle
    assert token.find("pkcs11:id=%AA%01;type=private").handle == priv.handle
    assert token.objects("pkcs11:id=%AA%01;type=cert") == []
    # selector and filter contradicting each other match nothing
    assert token.objects("pkcs11:object=findme;type=private", type="public") == []
    assert token.objects("findme", label="other") == []
    # a URI naming another token selects nothing on this one
    assert token.objects("pkcs11:token=elsewhere;object=findme") == []


def test_ref_uri_selects_the_object_again(token, pair):
    for ref in pair:
        uri = parse(ref.uri)
        assert uri.token == token.label and uri.id == ref.id and uri.object == ref.label
        assert uri.type == ref.type
        assert token.find(ref.uri).handle == ref.handle
    assert pair[0].key_type == "ec" and pair[0].label == "findme"


def test_find_errors_name_what_was_looked_for(token, pair):
    with pytest.raises(ObjectNotFound, match="no object matching 'nothing-here' type='cert'"):
        token.find("nothing-here", type="cert")
    with pytest.raises(AmbiguousMatch, match="2 objects match 'findme'"):
        token.find("findme")
    with pytest.raises(ValueError, match="unknown object type 'key'"):
        token.objects(type="key")


def test_attributes_of_a_public_key_hold_its_point(token, pair):
    attrs = pair[1].attributes()
    assert attrs["CKA_CLASS"] == "public" and attrs["CKA_KEY_TYPE"] == "ec"
    assert attrs["CKA_ID"] == b"\xaa\x01" and attrs["CKA_LABEL"] == "findme"
    assert isinstance(attrs["CKA_EC_POINT"], bytes) and len(attrs["CKA_EC_POINT"]) in (65, 67)


def test_token_sign_verify_by_mechanism_name(token, pair):
    priv, pub = pair
    sig = token.sign(priv, b"data", "ECDSA_SHA256")
    assert len(sig) == 64
    assert token.verify(pub, b"data", sig, "ECDSA_SHA256")
    assert not token.verify(pub, b"date", sig, "ECDSA_SHA256")
    assert token.verify(priv, b"data", sig)                     # default ECDSA_SHA256, via the public twin
    public = token.public_key(id=priv.id)
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public.verify(der, b"data", ec.ECDSA(hashes.SHA256()))
    raw = token.sign("pkcs11:object=findme;type=private", hashlib.sha256(b"data").digest(), "ECDSA")
    assert token.verify(pub, b"data", raw)


def test_rsa_mechanisms_by_name(token):
    priv, pub = token.generate_key_pair("rsa:2048", label="rsa-names")
    public = token.public_key(id=pub.id)
    sig = token.sign(priv, b"msg")                                           # SHA256_RSA_PKCS
    public.verify(sig, b"msg", padding.PKCS1v15(), hashes.SHA256())
    pss = token.sign(priv, b"msg", "SHA256_RSA_PKCS_PSS")
    public.verify(pss, b"msg", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    raw_pss = token.sign(priv, hashlib.sha384(b"msg").digest(), "RSA_PKCS_PSS")
    public.verify(raw_pss, b"msg", padding.PSS(padding.MGF1(hashes.SHA384()), 48), hashes.SHA384())
    assert token.verify(pub, b"msg", pss, "SHA256_RSA_PKCS_PSS")
    ct = token.encrypt(pub, b"secret", "RSA_PKCS")
    assert token.decrypt(priv, ct, "RSA_PKCS") == b"secret"


def test_eddsa_by_name(token):
    priv, pub = token.generate_key_pair("ed25519", label="ed-names")
    sig = token.sign(priv, b"msg")
    token.public_key(id=pub.id).verify(sig, b"msg")
    assert token.verify(pub, b"msg", sig, "EDDSA")


def test_unknown_mechanism_and_refused_operation(token, pair):
    with pytest.raises(Unsupported, match="unknown mechanism 'NOPE'"):
        token.sign(pair[0], b"x", "NOPE")
    with pytest.raises(StrongroomError, match=r"signing with 'findme' \(SHA256_RSA_PKCS\) failed: CKR_") as caught:
        token.sign(pair[0], b"x", "SHA256_RSA_PKCS")
    assert caught.value.ckr is not None


def test_certificates_listing_and_destroy(token):
    _priv, pub = token.generate_key_pair("ec:p256", label="doomed")
    assert len(token.objects("doomed")) == 2
    token.destroy(pub)
    token.destroy("pkcs11:object=doomed;type=private")
    assert token.objects("doomed") == []
    with pytest.raises(ObjectNotFound):
        token.destroy("doomed")


def test_uri_build_matches_objects_contract(token, pair):
    uri = build(token=token.label, object="findme", type="private").format()
    key = token.private_key(uri)
    assert key.ref.handle == pair[0].handle


def test_operation_the_key_does_not_allow_is_refused(token):
    _priv, pub = token.generate_key_pair("ed25519", label="no-encrypt")
    with pytest.raises(Unsupported, match=r"public key 'no-encrypt' does not allow encrypt \(CKA_ENCRYPT is false\)"):
        token.encrypt(pub, b"x", "RSA_PKCS")


def test_find_all_and_set_label(token):
    """Issue 11 item 16: find_all() is find() for none or several; set_label() relabels one
    object (C_SetAttributeValue on CKA_LABEL), on both backends."""
    assert token.find_all(label="dup-label") == []
    first, _ = token.generate_key_pair("ec:p256", label="dup-label", id=b"\xd0\x01")
    second, _ = token.generate_key_pair("ec:p256", label="dup-label", id=b"\xd0\x02")
    found = token.find_all(label="dup-label", type="private")
    assert {r.handle for r in found} == {first.handle, second.handle}
    with pytest.raises(AmbiguousMatch):
        token.find(label="dup-label", type="private")
    renamed = token.set_label(second, "dup-label-2")
    assert renamed.label == "dup-label-2" and renamed.handle == second.handle
    assert token.find(label="dup-label", type="private").handle == first.handle
    assert token.find("pkcs11:object=dup-label-2").handle == second.handle
    for ref in token.find_all("pkcs11:id=%D0%01") + token.find_all(id=b"\xd0\x02"):
        token.destroy(ref)


def test_has_mechanism(token):
    """By any spelling of the name; an unknown name is Unsupported, not a NameError."""
    assert token.has_mechanism("SHA256") and token.has_mechanism("ckm_sha256")
    with pytest.raises(Unsupported):
        token.has_mechanism("NO_SUCH_MECHANISM")
