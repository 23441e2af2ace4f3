"""python-pkcs11 (a Python host) loading the real module in this process -- each test
twice (conftest's ``token``): the in-process module, and the client module
(libstrongroom-client.so) reaching a token service over its socket."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    AttributeReadOnly,
    AttributeSensitive,
    NoSuchKey,
    PinIncorrect,
    TemplateIncomplete,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from support import USER_PIN


def ec_keypair(session, curve="secp256r1", **kw):
    params = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
    return params.generate_keypair(**kw)


@pytest.mark.parametrize("curve,pyca_curve,size", [
    ("secp256r1", ec.SECP256R1(), 32), ("secp384r1", ec.SECP384R1(), 48)])
def test_ec_sign_verifies_with_pyca(token, curve, pyca_curve, size):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        pub, priv = ec_keypair(session, curve, store=True, label="dev")
        digest = hashes.Hash(hashes.SHA256())
        digest.update(b"message")
        value = digest.finalize()
        sig = priv.sign(value, mechanism=Mechanism.ECDSA)
        assert len(sig) == 2 * size
        public = ec.EllipticCurvePublicKey.from_encoded_point(pyca_curve, decode_ec_public_key_point(pub))
        der = utils.encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
        public.verify(der, value, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        assert pub.verify(value, sig, mechanism=Mechanism.ECDSA)
        assert not pub.verify(bytes(32), sig, mechanism=Mechanism.ECDSA)


def decode_ec_public_key_point(pub) -> bytes:
    der_point = pub[Attribute.EC_POINT]
    assert der_point[0] == 0x04 and der_point[1] == len(der_point) - 2   # DER OCTET STRING
    return der_point[2:]


def test_rsa_sign_verifies_with_pyca(token):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        pub, priv = session.generate_keypair(KeyType.RSA, 2048, store=False, label="rsa")
        sig = priv.sign(b"data to sign", mechanism=Mechanism.SHA256_RSA_PKCS)
        n = int.from_bytes(pub[Attribute.MODULUS], "big")
        e = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        rsa.RSAPublicNumbers(e, n).public_key().verify(sig, b"data to sign", padding.PKCS1v15(),
                                                      hashes.SHA256())


def test_attribute_rules(token):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        _pub, priv = ec_keypair(session, store=True, label="rules")
        with pytest.raises(AttributeSensitive):
            priv[Attribute.VALUE]
        assert priv[Attribute.SENSITIVE] is True
        assert priv[Attribute.LOCAL] is True
        assert priv[Attribute.KEY_GEN_MECHANISM] == Mechanism.EC_KEY_PAIR_GEN
        assert priv[Attribute.NEVER_EXTRACTABLE] == (not priv[Attribute.EXTRACTABLE])
        with pytest.raises(AttributeReadOnly):
            priv[Attribute.SENSITIVE] = False
        with pytest.raises(AttributeReadOnly):
            priv[Attribute.LOCAL] = False
        priv[Attribute.LABEL] = "renamed"           # modifiable
        assert session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="renamed")
        with pytest.raises(TemplateIncomplete):
            session.create_object({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.EC})
        unique = priv[Attribute.UNIQUE_ID] if hasattr(Attribute, "UNIQUE_ID") else None
        assert unique is None or len(unique) > 0


def test_session_objects_vanish_with_their_session(token):
    with token.open(user_pin=USER_PIN, rw=True) as keeper:
        with token.open(rw=True) as session:
            session.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: "ephemeral",
                                   Attribute.VALUE: b"x", Attribute.TOKEN: False})
            assert len(list(keeper.get_objects({Attribute.LABEL: "ephemeral"}))) == 1
        assert list(keeper.get_objects({Attribute.LABEL: "ephemeral"})) == []


def test_seed_flow_import_and_find_by_label(token):
    """The device identity flow: keys and certificate imported, then found by label."""
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    params = encode_named_curve_parameters("secp256r1")
    with token.open(user_pin=USER_PIN, rw=True) as session:
        session.create_object({
            Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.EC,
            Attribute.TOKEN: True, Attribute.LABEL: "Device Priv TLS Key", Attribute.ID: b"\x42",
            Attribute.EC_PARAMS: params, Attribute.SIGN: True,
            Attribute.VALUE: key.private_numbers().private_value.to_bytes(32, "big")})
        session.create_object({
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.EC,
            Attribute.TOKEN: True, Attribute.LABEL: "Device Pub TLS Key", Attribute.ID: b"\x42",
            Attribute.EC_PARAMS: params, Attribute.EC_POINT: point, Attribute.VERIFY: True})
        session.create_object({
            Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True,
            Attribute.LABEL: "Device Cert TLS", Attribute.VALUE: b"cert-bytes"})
    with token.open(user_pin=USER_PIN) as session:
        priv = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="Device Priv TLS Key")
        sig = priv.sign(bytes(32), mechanism=Mechanism.ECDSA)
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.public_key().verify(der, bytes(32), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label="Device Pub TLS Key")
        assert pub[Attribute.EC_POINT] == b"\x04\x41" + point
        with pytest.raises(NoSuchKey):
            session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="nope")


def test_wrong_pin(token):
    with pytest.raises(PinIncorrect):
        token.open(user_pin="not-the-pin")


def test_aes_gcm_and_cbc_pad(token):
    with token.open(user_pin=USER_PIN, rw=True) as session:
        key = session.generate_key(KeyType.AES, 256, label="aes")
        iv = session.generate_random(96)
        gcm = GCMParams(iv[:12], b"aad", 128)
        ct = key.encrypt(b"attack at dawn", mechanism=Mechanism.AES_GCM, mechanism_param=gcm)
        assert len(ct) == len(b"attack at dawn") + 16
        assert key.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=gcm) == b"attack at dawn"
        iv16 = session.generate_random(128)
        ct = key.encrypt(b"x" * 33, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv16)
        assert len(ct) == 48
        assert key.decrypt(ct, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv16) == b"x" * 33


def test_digest(token):
    with token.open() as session:
        assert session.digest(b"abc", mechanism=Mechanism.SHA256).hex().startswith("ba7816bf")
