"""Profile building with plain pyca software keys (the token keys plug into the same calls)."""
from __future__ import annotations

import ipaddress
import shutil
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from strongroom.ca import profile as P
from strongroom.ca.errors import CAError, CAInvalidInput


@pytest.fixture(scope="module")
def ca():
    key = ec.generate_private_key(ec.SECP384R1())
    cert = P.self_signed(key, "CN=Test Root,O=Acme", P.Profile(validity_days=30, is_ca=True, path_length=1))
    return key, cert


def _ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def test_parse_subject_order_and_escapes():
    name = P.parse_subject("CN=dev-001,O=Acme\\, Inc,C=DE")
    assert name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dev-001"
    assert name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme, Inc"
    assert name.rfc4514_string() == "CN=dev-001,O=Acme\\, Inc,C=DE"


@pytest.mark.parametrize("bad", ["", "  ", "dev-001", "CN=", "CN=x,,O=y", "XX=1", "C=Germany"])
def test_parse_subject_rejects(bad):
    with pytest.raises(CAError) as info:
        P.parse_subject(bad)
    assert isinstance(info.value, CAInvalidInput) and "subject" in str(info.value)


def test_parse_san_kinds():
    assert P.parse_san("DNS:a.example") == x509.DNSName("a.example")
    assert P.parse_san("IP:10.0.0.1") == x509.IPAddress(ipaddress.ip_address("10.0.0.1"))
    assert P.parse_san("ip:::1") == x509.IPAddress(ipaddress.ip_address("::1"))
    assert P.parse_san("URI:urn:dev:1") == x509.UniformResourceIdentifier("urn:dev:1")
    assert P.parse_san("email:a@b.example") == x509.RFC822Name("a@b.example")


@pytest.mark.parametrize("bad", ["a.example", "DNS:", "IP:300.1.1.1", "URI:noscheme", "email:nobody",
                                 "FOO:bar", "DNS:a b"])
def test_parse_san_rejects(bad):
    with pytest.raises(CAError, match="SAN"):
        P.parse_san(bad)


def test_profile_rejects_bad_options():
    for kwargs in ({"validity_days": 0}, {"key_usage": ("signing",)}, {"extended_key_usage": ("web",)},
                   {"path_length": 1}, {"is_ca": True, "path_length": -1}, {"san": ("nope",)}):
        with pytest.raises(CAError):
            P.Profile(**kwargs)


def test_self_signed_ca_extensions(ca):
    _key, cert = ca
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    cert.verify_directly_issued_by(cert)


def test_issue_leaf_from_csr(ca):
    ca_key, ca_cert = ca
    dev = ec.generate_private_key(ec.SECP256R1())
    csr = P.build_csr(dev, "CN=dev-001,O=Acme", ["DNS:dev-001.example", "IP:192.0.2.1"])
    prof = P.Profile(validity_days=10, extended_key_usage=("clientAuth", "serverAuth"),
                     san=("URI:urn:acme:dev-001", "DNS:dev-001.example"))
    cert = P.issue(ca_key, ca_cert, csr, prof)
    cert.verify_directly_issued_by(ca_cert)
    assert cert.subject == csr.subject and cert.issuer == ca_cert.subject
    assert cert.public_key() == dev.public_key()
    assert not _ext(cert, x509.BasicConstraints).value.ca
    ku = _ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.key_encipherment
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH,
                                                              ExtendedKeyUsageOID.SERVER_AUTH]
    sans = list(_ext(cert, x509.SubjectAlternativeName).value)
    assert sans == [x509.DNSName("dev-001.example"), x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
                    x509.UniformResourceIdentifier("urn:acme:dev-001")]       # deduplicated, CSR's first
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=10, minutes=5)
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == \
        _ext(ca_cert, x509.SubjectKeyIdentifier).value.digest
    assert 0 < cert.serial_number < 2 ** 159


def test_serials_are_random(ca):
    ca_key, ca_cert = ca
    csr = P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=x")
    serials = {P.issue(ca_key, ca_cert, csr).serial_number for _ in range(5)}
    assert len(serials) == 5 and max(serials).bit_length() > 100


def test_rsa_and_ed25519_leaves(ca):
    ca_key, ca_cert = ca
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = P.issue(ca_key, ca_cert, P.build_csr(rsa_key, "CN=rsa"))
    assert _ext(cert, x509.KeyUsage).value.key_encipherment
    ed = ed25519.Ed25519PrivateKey.generate()
    cert = P.issue(ca_key, ca_cert, P.build_csr(ed, "CN=ed"))
    cert.verify_directly_issued_by(ca_cert)


def test_validity_clamped_to_ca(ca):
    ca_key, ca_cert = ca
    cert = P.issue(ca_key, ca_cert, P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=x"),
                   P.Profile(validity_days=1000))
    assert cert.not_valid_after_utc == ca_cert.not_valid_after_utc


def test_bad_csr_signature_is_refused(ca):
    ca_key, ca_cert = ca
    good = P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=dev")
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01                                   # inside the signature
    with pytest.raises(CAError, match="signature does not verify"):
        P.load_csr(bytes(der), "dev.csr")
    with pytest.raises(CAError, match=r"dev\.csr: not a PKCS#10"):
        P.load_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n",
                   "dev.csr")
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(CAError, match="signature"):
        P.issue(ca_key, ca_cert, tampered)


def test_sub_ca_path_lengths(ca):
    ca_key, ca_cert = ca
    sub_key = ec.generate_private_key(ec.SECP256R1())
    sub = P.issue(ca_key, ca_cert, P.build_csr(sub_key, "CN=Sub"), P.Profile(is_ca=True, path_length=0))
    assert _ext(sub, x509.BasicConstraints).value.path_length == 0
    with pytest.raises(CAError, match="path length"):
        P.issue(ca_key, ca_cert, P.build_csr(sub_key, "CN=Sub2"), P.Profile(is_ca=True))
    with pytest.raises(CAError, match="cannot issue sub-CA"):
        P.issue(sub_key, sub, P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=Sub3"),
                P.Profile(is_ca=True, path_length=0))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = P.issue(sub_key, sub, P.build_csr(leaf_key, "CN=leaf"), P.DEVICE_PROFILE)
    leaf.verify_directly_issued_by(sub)


def test_leaf_cannot_issue(ca):
    ca_key, ca_cert = ca
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = P.issue(ca_key, ca_cert, P.build_csr(leaf_key, "CN=leaf"))
    with pytest.raises(CAError, match="not a CA"):
        P.issue(leaf_key, leaf, P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=x"))


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_openssl_verifies_chain(ca, tmp_path):
    ca_key, ca_cert = ca
    sub_key = ec.generate_private_key(ec.SECP256R1())
    sub = P.issue(ca_key, ca_cert, P.build_csr(sub_key, "CN=Sub"), P.Profile(is_ca=True, path_length=0))
    leaf = P.issue(sub_key, sub, P.build_csr(ec.generate_private_key(ec.SECP256R1()), "CN=leaf"),
                   P.DEVICE_PROFILE.with_(san=("DNS:leaf.example",)))
    pem = serialization.Encoding.PEM
    (tmp_path / "root.pem").write_bytes(ca_cert.public_bytes(pem))
    (tmp_path / "sub.pem").write_bytes(sub.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    proc = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", "root.pem", "-untrusted", "sub.pem",
                           "-purpose", "sslserver", "leaf.pem"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "leaf.pem: OK" in proc.stdout
