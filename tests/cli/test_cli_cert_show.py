"""Issue 11 item 6 (certificate part): `cert show` and `cert delete`."""
from __future__ import annotations

import datetime
import ipaddress

import pytest
from cli_support import error_line
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def _cert(key) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev-0001"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer).public_key(key.public_key())
            .serial_number(0x1234ABCD).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("dev-0001.local"),
                                                        x509.IPAddress(ipaddress.ip_address("10.0.0.7"))]),
                           critical=False)
            .add_extension(x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))


@pytest.fixture
def with_cert(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "dev", "--id", "0a")
    pub = serialization.load_pem_public_key(token.user("key", "export-public", "dev").stdout)

    class _Key:
        def public_key(self):
            return pub
    cert = _cert(_Key())
    (tmp_path / "dev.crt").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    token.user("cert", "import", str(tmp_path / "dev.crt"))
    return cert


def test_cert_show_text_and_json(token, with_cert):
    fingerprint = with_cert.fingerprint(hashes.SHA256()).hex(":").upper()
    text = token("cert", "show", "dev", "--token", "t").stdout.decode()
    assert text == (
        "certificate 'dev' id 0a\n"
        "  subject:     O=Acme,CN=dev-0001\n"
        "  issuer:      CN=Acme CA\n"
        "  serial:      1234abcd\n"
        "  not before:  2026-01-02T03:04:05+00:00\n"
        "  not after:   2027-01-02T03:04:05+00:00\n"
        "  SAN:         DNS:dev-0001.local, IP:10.0.0.7\n"
        "  key usage:   digital_signature, key_agreement\n"
        "  ext. usage:  clientAuth\n"
        f"  SHA-256:     {fingerprint}\n"
        "  uri:         pkcs11:token=t;object=dev;type=cert;id=%0A\n")
    [data] = token.json("cert", "show", "--id", "0a", "--token", "t")
    assert data["san"] == ["DNS:dev-0001.local", "IP:10.0.0.7"] and data["serial"] == "1234abcd"
    assert data["sha256_fingerprint"] == fingerprint and data["extended_key_usage"] == ["clientAuth"]


def test_cert_delete_keeps_the_keys(token, with_cert):
    out = token.user("cert", "delete", "dev").stdout.decode()
    assert out == "deleted:\ncert  -  id 0a  'dev'\n"
    assert token.json("cert", "list", "--token", "t") == []
    assert {k["type"] for k in token.json("key", "list", "--token", "t", "--pin", "user-pin-1234")} == \
        {"private", "public"}
    proc = token.user("cert", "delete", "dev", code=3)
    assert error_line(proc) == "strongroom: error: no certificate matches 'dev'"
    proc = token("cert", "show", "dev", "--token", "t", code=3)
    assert error_line(proc) == "strongroom: error: no certificate matches 'dev'"
