"""Keys made, used and read through the service by Debian's stock p11-kit-client.so
(pkcs11-tool and python-pkcs11 on top of it); what it signs is verified by OpenSSL."""
from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from service_support import P11KIT_CLIENT, Service, p11kit_tool

from support import SO_PIN, USER_PIN

pytestmark = pytest.mark.skipif(not os.path.exists(P11KIT_CLIENT), reason="p11-kit-modules not installed")


_tool = functools.partial(p11kit_tool, timeout=180)


def _user(svc: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return _tool(svc, "--token-label", "svc", "--login", "--pin", USER_PIN, *args)


@pytest.fixture
def token(service: Service) -> Service:
    _tool(service, "--init-token", "--slot-index", "0", "--label", "svc", "--so-pin", SO_PIN)
    _tool(service, "--token-label", "svc", "--login", "--login-type", "so", "--so-pin", SO_PIN,
          "--init-pin", "--pin", USER_PIN)
    return service


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def _public_pem(svc: Service, key_id: str, out: Path) -> Path:
    der = out.with_suffix(".der")
    _tool(svc, "--token-label", "svc", "--read-object", "--type", "pubkey", "--id", key_id, "-o", str(der))
    assert _openssl("pkey", "-pubin", "-inform", "DER", "-in", str(der), "-out", str(out)).returncode == 0
    return out


def test_ec_key_made_and_signing_through_the_service_verifies_with_openssl(token: Service, tmp_path: Path) -> None:
    _user(token, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "01", "--label", "ec1")
    digest = tmp_path / "h.bin"
    digest.write_bytes(hashlib.sha256(b"through the service").digest())
    sig = tmp_path / "ec.sig"
    _user(token, "--sign", "--id", "01", "-m", "ECDSA", "--signature-format", "openssl",
          "-i", str(digest), "-o", str(sig))
    pem = _public_pem(token, "01", tmp_path / "ec.pem")
    ok = _openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(digest), "-sigfile", str(sig))
    assert "Signature Verified Successfully" in ok.stdout, ok.stdout + ok.stderr
    bad = tmp_path / "bad.bin"
    bad.write_bytes(hashlib.sha256(b"something else").digest())
    assert _openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(bad),
                    "-sigfile", str(sig)).returncode != 0


def test_rsa_signatures_through_the_service_verify_with_openssl(token: Service, tmp_path: Path) -> None:
    """PKCS#1 v1.5 with SHA-256, and PSS with its parameters on the wire (hash, MGF, salt)."""
    _user(token, "--keypairgen", "--key-type", "rsa:2048", "--id", "02", "--label", "rsa1")
    data = tmp_path / "data.txt"
    data.write_bytes(b"signed by the token service\n")
    digest = tmp_path / "h.bin"
    digest.write_bytes(hashlib.sha256(data.read_bytes()).digest())
    pem = _public_pem(token, "02", tmp_path / "rsa.pem")
    sig, pss = tmp_path / "rsa.sig", tmp_path / "pss.sig"
    _user(token, "--sign", "--id", "02", "-m", "SHA256-RSA-PKCS", "-i", str(data), "-o", str(sig))
    ok = _openssl("dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data))
    assert ok.stdout.strip() == "Verified OK", ok.stdout + ok.stderr
    _user(token, "--sign", "--id", "02", "-m", "RSA-PKCS-PSS", "--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256",
          "--salt-len", "32", "-i", str(digest), "-o", str(pss))
    args = ["pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(digest), "-sigfile", str(pss),
            "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "digest:sha256"]
    assert "Verified Successfully" in _openssl(*args, "-pkeyopt", "rsa_pss_saltlen:32").stdout
    # the salt length travelled: a verifier told another one refuses the signature
    assert _openssl(*args, "-pkeyopt", "rsa_pss_saltlen:20").returncode != 0


def test_pkcs11_tool_self_test_through_the_service(token: Service) -> None:
    _user(token, "--keypairgen", "--key-type", "rsa:2048", "--id", "03", "--label", "rsa-test")
    out = _tool(token, "--login", "--pin", USER_PIN, "--test")
    assert "No errors" in out.stdout + out.stderr, out.stdout + out.stderr


def test_python_pkcs11_objects_and_attributes_through_the_service(token: Service) -> None:
    os.environ["P11_KIT_SERVER_ADDRESS"] = f"unix:path={token.socket}"
    try:
        lib = pkcs11.lib(P11KIT_CLIENT)
        tok = lib.get_token(token_label="svc")
        with tok.open(user_pin=USER_PIN, rw=True) as session:
            pub, priv = session.generate_keypair(KeyType.RSA, 2048, label="py", id=b"\x07", store=True)
            assert pub[Attribute.MODULUS_BITS] == 2048 and priv[Attribute.SENSITIVE] is True
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                priv[Attribute.PRIVATE_EXPONENT]
            found = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: b"\x07"}))
            assert [o[Attribute.LABEL] for o in found] == ["py"]
            sig = priv.sign(b"data", mechanism=Mechanism.SHA256_RSA_PKCS)
            assert pub.verify(b"data", sig, mechanism=Mechanism.SHA256_RSA_PKCS)
            assert not pub.verify(b"other", sig, mechanism=Mechanism.SHA256_RSA_PKCS)
            data = session.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: "note",
                                          Attribute.VALUE: b"abc", Attribute.TOKEN: False})
            data[Attribute.LABEL] = "renamed"
            assert data[Attribute.LABEL] == "renamed" and data[Attribute.VALUE] == b"abc"
            data.destroy()
            assert not list(session.get_objects({Attribute.LABEL: "renamed"}))
    finally:
        del os.environ["P11_KIT_SERVER_ADDRESS"]
