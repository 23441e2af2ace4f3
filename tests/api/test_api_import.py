"""Importing pyca keys, certificates and raw secrets; using them on the token."""
from __future__ import annotations

import datetime
import hashlib
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from test_api_keys import csr_for

from strongroom.api import NotExtractable


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


SOFTWARE_KEYS = {
    "rsa": lambda: rsa.generate_private_key(65537, 2048),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
}


def _sign_and_check(key, public):
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(key.sign(b"m", padding.PKCS1v15(), hashes.SHA256()), b"m", padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(key.sign(b"m", ec.ECDSA(hashes.SHA256())), b"m", ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(key.sign(b"m"), b"m")


@pytest.mark.parametrize("name", list(SOFTWARE_KEYS))
def test_import_private_key_then_sign_on_token(token, name):
    software = SOFTWARE_KEYS[name]()
    priv, pub = token.import_private_key(software, label=f"imported {name}")
    assert priv.id == pub.id == hashlib.sha1(spki(software.public_key())).digest()
    attrs = priv.attributes()
    assert attrs["CKA_SENSITIVE"] is True and attrs["CKA_EXTRACTABLE"] is False
    assert attrs["CKA_TOKEN"] is True and attrs["CKA_PRIVATE"] is True
    key = token.private_key(id=priv.id)
    assert spki(key.public_key()) == spki(software.public_key())
    _sign_and_check(key, software.public_key())
    with pytest.raises(NotExtractable):
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())


def test_imported_rsa_key_decrypts_oaep(token):
    software = rsa.generate_private_key(65537, 2048)
    _priv, _ = token.import_private_key(software, label="oaep", id=b"oaep")
    key = token.private_key(id=b"oaep")
    oaep = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    assert key.decrypt(software.public_key().encrypt(b"secret", oaep), oaep) == b"secret"


def test_import_extractable_private_key(token):
    priv, _ = token.import_private_key(ec.generate_private_key(ec.SECP256R1()), label="extr", extractable=True)
    attrs = priv.attributes()
    assert attrs["CKA_EXTRACTABLE"] is True and attrs["CKA_SENSITIVE"] is True
    assert attrs["CKA_VALUE"] == "<sensitive>"


def test_import_public_key_and_certificate(token):
    software = ec.generate_private_key(ec.SECP256R1())
    pub = token.import_public_key(software.public_key(), label="pub only", id=b"\x42")
    assert pub.type == "public" and pub.key_type == "ec"
    assert spki(token.public_key(id=b"\x42")) == spki(software.public_key())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imported cert")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(software.public_key())
            .serial_number(0x00FF_1234_5678).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=2))
            .sign(software, hashes.SHA256()))
    ref = token.import_certificate(cert, label="the cert")
    assert ref.type == "cert" and ref.id == hashlib.sha1(spki(software.public_key())).digest()
    attrs = ref.attributes()
    assert attrs["CKA_SUBJECT"] == name.public_bytes()
    assert attrs["CKA_ISSUER"] == name.public_bytes()
    assert attrs["CKA_SERIAL_NUMBER"] == bytes.fromhex("020600FF12345678")   # DER INTEGER, sign byte kept
    assert attrs["CKA_VALUE"] == cert.public_bytes(serialization.Encoding.DER)
    assert token.certificate(label="the cert") == cert
    assert cert in token.certificates()


def test_import_aes_key_interoperates_with_pyca(token):
    secret = os.urandom(32)
    ref = token.import_secret_key(secret, label="aes imported", id=b"aes1")
    attrs = ref.attributes()
    assert attrs["CKA_VALUE"] == "<sensitive>" and attrs["CKA_SENSITIVE"] is True
    assert attrs["CKA_EXTRACTABLE"] is False
    blob = token.encrypt(ref, b"plaintext", "AES_GCM")
    assert AESGCM(secret).decrypt(blob[:12], blob[12:], None) == b"plaintext"
    nonce = os.urandom(12)
    assert token.decrypt(ref, nonce + AESGCM(secret).encrypt(nonce, b"other", None)) == b"other"
    cbc = token.encrypt(ref, b"x" * 20, "AES_CBC_PAD")
    assert len(cbc) == 16 + 32 and token.decrypt(ref, cbc, "AES_CBC_PAD") == b"x" * 20


def test_bad_secret_length_changes_nothing(token):
    before = len(token.objects())
    with pytest.raises(ValueError, match="16, 24 or 32 bytes, not 10"):
        token.import_secret_key(b"0123456789", label="short")
    assert len(token.objects()) == before


def test_csr_from_imported_key(token):
    software = ec.generate_private_key(ec.SECP384R1())
    priv, _ = token.import_private_key(software, label="csr import")
    csr = csr_for(token.private_key(id=priv.id), hashes.SHA384())
    assert csr.is_signature_valid and spki(csr.public_key()) == spki(software.public_key())
