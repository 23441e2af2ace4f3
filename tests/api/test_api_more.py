"""ECDH, the ECDSA fallback for tokens without CKM_ECDSA_SHA*, RSA OAEP, public-key decoding."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from pkcs11 import Attribute, KeyType, Mechanism

from strongroom.api import StrongroomError
from strongroom.api.der import octet_string
from strongroom.api.importing import public_key_from_attributes
from strongroom.api.kinds import parse_kind


def test_ecdh_exchange_on_token_matches_pyca(token):
    priv, _ = token.generate_key_pair("ec:p256", label="ecdh")
    key = token.private_key(id=priv.id)
    peer = ec.generate_private_key(ec.SECP256R1())
    shared = key.exchange(ec.ECDH(), peer.public_key())
    assert shared == peer.exchange(ec.ECDH(), key.public_key())
    assert len(shared) == 32
    with pytest.raises(ValueError, match="peer key is on secp384r1"):
        key.exchange(ec.ECDH(), ec.generate_private_key(ec.SECP384R1()).public_key())


def test_ecdsa_falls_back_to_hash_here_and_ckm_ecdsa(token, monkeypatch):
    """A token offering CKM_ECDSA but not CKM_ECDSA_SHA384: the key hashes in Python."""
    priv, _ = token.generate_key_pair("ec:p384", label="fallback")
    key = token.private_key(id=priv.id)
    limited = token.mechanisms() - {Mechanism.ECDSA_SHA256, Mechanism.ECDSA_SHA384}
    monkeypatch.setattr(token, "_mechanisms", limited)
    used = []
    real = token.sign_raw
    monkeypatch.setattr(token, "sign_raw",
                        lambda ref, data, mech, param=None: used.append(mech) or real(ref, data, mech, param))
    sig = key.sign(b"payload", ec.ECDSA(hashes.SHA384()))
    key.public_key().verify(sig, b"payload", ec.ECDSA(hashes.SHA384()))
    raw = token.sign(priv, b"payload", "ECDSA_SHA256")                # Token.sign falls back too
    assert token.verify(priv, b"payload", raw, "ECDSA_SHA256")
    assert used == [Mechanism.ECDSA]


def test_rsa_oaep_roundtrips(token):
    priv, pub = token.generate_key_pair("rsa:2048", label="oaep")
    ct = token.encrypt(pub, b"secret", "RSA_PKCS_OAEP_SHA1")
    assert token.decrypt(priv, ct, "RSA_PKCS_OAEP_SHA1") == b"secret"
    public = token.public_key(id=pub.id)
    sha1 = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    assert token.decrypt(priv, public.encrypt(b"from pyca", sha1), "RSA_PKCS_OAEP_SHA1") == b"from pyca"
    try:
        ct = token.encrypt(pub, b"secret")                              # default: RSA_PKCS_OAEP, SHA-256
    except StrongroomError as exc:
        assert "CKR_ARGUMENTS_BAD" in str(exc) or "CKR_MECHANISM_PARAM_INVALID" in str(exc)
        pytest.skip(f"module refuses OAEP with SHA-256 ({exc})")
    assert token.decrypt(priv, ct) == b"secret"
    key = token.private_key(id=priv.id)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    assert key.decrypt(key.public_key().encrypt(b"again", oaep), oaep) == b"again"


def _getter(values):
    return lambda attribute: values.get(attribute)


@pytest.mark.parametrize("wrapped", [True, False])
def test_ec_point_raw_or_der_wrapped(wrapped):
    software = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = software.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    values = {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: parse_kind("ec:p256").ec_params,
              Attribute.EC_POINT: octet_string(point) if wrapped else point}
    assert public_key_from_attributes(_getter(values)) == software


@pytest.mark.parametrize("wrapped", [True, False])
def test_ed25519_point_raw_or_der_wrapped(wrapped):
    software = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = software.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    values = {Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: parse_kind("ed25519").ec_params,
              Attribute.EC_POINT: octet_string(raw) if wrapped else raw}
    assert public_key_from_attributes(_getter(values)) == software


def test_public_key_info_preferred():
    software = ec.generate_private_key(ec.SECP384R1()).public_key()
    spki = software.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_key_from_attributes(_getter({0x129: spki, Attribute.KEY_TYPE: KeyType.EC})) == software
    with pytest.raises(ValueError, match="do not describe a supported public key"):
        public_key_from_attributes(_getter({Attribute.KEY_TYPE: KeyType.EC}))
