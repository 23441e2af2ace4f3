"""Key generation and token keys used as pyca/cryptography keys (x509 builders)."""
from __future__ import annotations

import hashlib
import subprocess

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID

from strongroom.api import NotExtractable
from strongroom.api.keys import TokenECPrivateKey, TokenEd25519PrivateKey, TokenRSAPrivateKey

NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-1")])


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def csr_for(key, algorithm, **kw):
    return x509.CertificateSigningRequestBuilder().subject_name(NAME).sign(key, algorithm, **kw)


def self_signed(key, algorithm, **kw):
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(NAME).issuer_name(NAME).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, algorithm, **kw))


@pytest.mark.parametrize("kind,cls", [("ec:p256", TokenECPrivateKey), ("ec:p384", TokenECPrivateKey),
                                      ("rsa:2048", TokenRSAPrivateKey), ("ed25519", TokenEd25519PrivateKey)])
def test_generated_pair_attributes(token, kind, cls):
    priv, pub = token.generate_key_pair(kind, label=f"gen {kind}")
    assert (priv.type, pub.type) == ("private", "public")
    attrs = priv.attributes()
    assert attrs["CKA_TOKEN"] is True and attrs["CKA_PRIVATE"] is True
    assert attrs["CKA_SENSITIVE"] is True and attrs["CKA_EXTRACTABLE"] is False
    assert attrs["CKA_VALUE" if kind != "rsa:2048" else "CKA_PRIVATE_EXPONENT"] == "<sensitive>"
    assert pub.attributes()["CKA_TOKEN"] is True
    key = token.private_key(id=priv.id)
    assert isinstance(key, cls)
    # no id given: both objects carry SHA-1 of the public key's SubjectPublicKeyInfo
    assert priv.id == pub.id == hashlib.sha1(spki(key.public_key())).digest()
    assert spki(token.public_key(id=pub.id)) == spki(key.public_key())


def test_explicit_id_label_extractable_and_public_label(token):
    priv, pub = token.generate_key_pair("ec:p256", label="Device Priv TLS Key", id=b"\x01\x02",
                                        extractable=True, public_label="Device Pub TLS Key")
    assert priv.id == pub.id == b"\x01\x02"
    assert (priv.label, pub.label) == ("Device Priv TLS Key", "Device Pub TLS Key")
    attrs = priv.attributes()
    assert attrs["CKA_EXTRACTABLE"] is True and attrs["CKA_SENSITIVE"] is True


def test_rsa_3072(token):
    priv, _ = token.generate_key_pair("rsa:3072", label="rsa3072")
    assert token.private_key(id=priv.id).key_size == 3072


def test_allowed_mechanisms_are_stored_and_enforced(token):
    priv, _ = token.generate_key_pair("ec:p256", label="only-ecdsa", allowed_mechanisms=["ECDSA"])
    assert priv.attributes()["CKA_ALLOWED_MECHANISMS"] == ["ECDSA"]
    key = token.private_key(id=priv.id)
    digest = hashlib.sha256(b"m").digest()
    sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))      # CKM_ECDSA: allowed
    key.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("kind,algorithm", [("ec:p256", hashes.SHA256()), ("ec:p384", hashes.SHA384()),
                                            ("rsa:2048", hashes.SHA256()), ("ed25519", None),
                                            ("ed448", None)])
def test_csr_and_certificate_signed_on_token(token, kind, algorithm):
    priv, _ = token.generate_key_pair(kind, label=f"x509 {kind}")
    key = token.private_key(id=priv.id)
    csr = csr_for(key, algorithm)
    assert csr.is_signature_valid
    cert = self_signed(key, algorithm)
    cert.verify_directly_issued_by(cert)
    assert spki(cert.public_key()) == spki(key.public_key())


def test_rsa_pss_certificate(token):
    priv, _ = token.generate_key_pair("rsa:2048", label="pss")
    key = token.private_key(id=priv.id)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    cert = self_signed(key, hashes.SHA256(), rsa_padding=pss)
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSASSA_PSS
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, pss, hashes.SHA256())
    with pytest.raises(InvalidSignature):
        cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes + b"x", pss, hashes.SHA256())


def test_openssl_verifies_token_signed_csr_and_certificate(token, tmp_path):
    priv, _ = token.generate_key_pair("ec:p256", label="openssl")
    key = token.private_key(id=priv.id)
    (tmp_path / "req.pem").write_bytes(csr_for(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "req", "-in", str(tmp_path / "req.pem"), "-verify", "-noout"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "verify OK" in (out.stdout + out.stderr)
    (tmp_path / "ca.pem").write_bytes(self_signed(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "ca.pem")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("hash_cls", [hashes.SHA256, hashes.SHA384, hashes.SHA512])
def test_ecdsa_prehashed_and_plain(token, hash_cls):
    priv, _ = token.generate_key_pair("ec:p384", label=f"ecdsa {hash_cls.name}")
    key = token.private_key(id=priv.id)
    public = key.public_key()
    public.verify(key.sign(b"data", ec.ECDSA(hash_cls())), b"data", ec.ECDSA(hash_cls()))
    h = hashes.Hash(hash_cls())
    h.update(b"data")
    digest = h.finalize()
    sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hash_cls())))
    public.verify(sig, b"data", ec.ECDSA(hash_cls()))
    with pytest.raises(InvalidSignature):
        public.verify(sig, b"other", ec.ECDSA(hash_cls()))


def test_rsa_prehashed_pkcs1_and_decrypt(token):
    priv, _ = token.generate_key_pair("rsa:2048", label="rsa ops")
    key = token.private_key(id=priv.id)
    digest = hashlib.sha256(b"data").digest()
    sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    key.public_key().verify(sig, b"data", padding.PKCS1v15(), hashes.SHA256())
    ct = key.public_key().encrypt(b"secret", padding.PKCS1v15())
    assert key.decrypt(ct, padding.PKCS1v15()) == b"secret"


def test_private_material_is_not_exported(token):
    priv, _ = token.generate_key_pair("ec:p256", label="stays")
    key = token.private_key(id=priv.id)
    for call in (lambda: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()),
                 key.private_numbers):
        with pytest.raises(NotExtractable, match="is on token"):
            call()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey))


def test_secret_key_generation(token):
    ref = token.generate_secret_key("aes:256", label="aes gen")
    attrs = ref.attributes()
    assert ref.type == "secret-key" and ref.key_type == "aes"
    assert attrs["CKA_VALUE_LEN"] == 32 and attrs["CKA_VALUE"] == "<sensitive>"
    assert attrs["CKA_SENSITIVE"] is True and attrs["CKA_EXTRACTABLE"] is False
    ct = token.encrypt(ref, b"hello", "AES_GCM")
    assert len(ct) == 12 + 5 + 16
    assert token.decrypt(ref, ct, "AES_GCM") == b"hello"
    # any spelling of a mechanism name selects the same mechanism and IV handling
    for name in ("aes-gcm", "CKM_AES_GCM", "aes-cbc-pad"):
        assert token.decrypt(ref, token.encrypt(ref, b"hello", name), name) == b"hello"
    generic = token.generate_secret_key("generic:256", label="hmac gen")
    assert generic.key_type == "generic_secret"


@pytest.mark.parametrize("kind", ["x25519", "x448"])
def test_montgomery_pair_agrees_with_pyca(backend, token, kind):
    """X25519 / X448 key pairs (generated through cfuncs: python-pkcs11 0.10 has no
    CKK_EC_MONTGOMERY) do ECDH on the token with the same result pyca computes."""
    if backend.name == "softhsm":
        pytest.skip("SoftHSM2 2.6 has no CKK_EC_MONTGOMERY keys (it treats X25519 as Edwards)")
    from cryptography.hazmat.primitives.asymmetric import x448, x25519
    from pkcs11 import KDF, Attribute, KeyType, Mechanism, ObjectClass

    priv, pub = token.generate_key_pair(kind, label=f"gen {kind}")
    attrs = priv.attributes()
    assert attrs["CKA_DERIVE"] is True and attrs["CKA_SIGN"] is False
    assert attrs["CKA_SENSITIVE"] is True and attrs["CKA_EXTRACTABLE"] is False
    assert attrs["CKA_VALUE"] == "<sensitive>"
    ours = token.public_key(id=pub.id)
    assert priv.id == pub.id == hashlib.sha1(spki(ours)).digest()
    peer = (x25519.X25519PrivateKey if kind == "x25519" else x448.X448PrivateKey).generate()
    peer_raw = peer.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    secret = priv.obj.derive_key(
        KeyType.GENERIC_SECRET, 8 * len(peer_raw), mechanism=Mechanism.ECDH1_DERIVE,
        mechanism_param=(KDF.NULL, None, peer_raw),
        template={Attribute.TOKEN: False, Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True,
                  Attribute.CLASS: ObjectClass.SECRET_KEY})
    assert secret[Attribute.VALUE] == peer.exchange(ours)
    explicit, _ = token.generate_key_pair(kind, label="with id", id=b"\x07")
    assert explicit.id == b"\x07"


@pytest.mark.parametrize("kind", ["ml-dsa-44", "ml-dsa-65", "ml-dsa-87"])
def test_ml_dsa_sign_on_token_verifies_with_pyca(backend, token, kind):
    if backend.name == "softhsm":
        pytest.skip("SoftHSM2 2.6 has no ML-DSA")
    priv, pub = token.generate_key_pair(kind, label=f"gen {kind}")
    assert priv.attributes()["CKA_SIGN"] is True and priv.attributes()["CKA_DECRYPT"] is False
    signature = token.sign(priv, b"firmware image")
    assert token.verify(pub, b"firmware image", signature)
    assert not token.verify(pub, b"firmware imagE", signature)
    token.public_key(id=pub.id).verify(signature, b"firmware image")   # pyca raises if invalid
