"""Known key material written to files in the formats ``key import`` reads."""
from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSWORD = b"file-password-42"
# A fixed P-256 scalar: its bytes are what must never show up in any output.
EC_SCALAR = 0x1B2C3D4E5F60718293A4B5C6D7E8F90112233445566778899AABBCCDDEEFF001


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(EC_SCALAR, ec.SECP256R1())


def pem(key, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def der(key, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, enc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject_key, issuer_key, subject: str, issuer: str, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def pkcs12_bundle(path: Path, password: bytes | None = PASSWORD):
    """A PKCS#12 with an EC leaf key, its certificate and the (RSA) CA certificate."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = certificate(ca_key, ca_key, "Test Root CA", "Test Root CA", ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = certificate(leaf_key, ca_key, "device-007", "Test Root CA", ca=False)
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"device-007", leaf_key, leaf_cert, [ca_cert], enc))
    return leaf_key, leaf_cert, ca_cert
