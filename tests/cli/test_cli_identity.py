"""Issue 11 items 4 and 5: the ESP32 device-identity layout built with strongroom commands
alone (labels per object: --public-label, --cert-label, object set-label), and objects
sharing a CKA_ID used as one identity (verify / export-public by the private key's or the
certificate's label; verify --cert FILE)."""
from __future__ import annotations

import re

import pytest
from cli_keys import certificate, pem
from cli_support import USER_PIN, error_line
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DATA = b"telemetry 42\n"
LAYOUT = {("Private Key", "Device Priv TLS Key"), ("Public Key", "Device Pub TLS Key"),
          ("Certificate", "Device Cert TLS"), ("Private Key", "Claim Priv TLS Key"),
          ("Certificate", "Claim Cert TLS")}


def _labels_seen_by_pkcs11_tool(p11tool) -> set[tuple[str, str]]:
    out = p11tool.run("-O", "--login", "--pin", USER_PIN).stdout
    found = set()
    for block in re.split(r"\n(?=\S)", out):
        kind = re.match(r"(Private Key|Public Key|Certificate) Object", block)
        label = re.search(r"^\s+label:\s+(.*)$", block, re.M)
        if kind and label:
            found.add((kind.group(1), label.group(1).strip()))
    return found


@pytest.fixture
def esp32(token, p11tool, tmp_path):
    """The layout, built as a user would: generate + cert import + set-label for the
    device identity, one key import with --cert-label for the claim identity."""
    ca = ec.generate_private_key(ec.SECP256R1())
    token.user("key", "generate", "--type", "ec:p256", "--label", "Device Priv TLS Key",
               "--public-label", "Device Pub TLS Key")
    device_pub = serialization.load_pem_public_key(
        token.user("key", "export-public", "Device Pub TLS Key").stdout)

    class _Pub:                             # certificate() takes "a key with .public_key()"
        def public_key(self):
            return device_pub
    dev_cert = certificate(_Pub(), ca, "device-1", "Claim CA", ca=False)
    (tmp_path / "dev.crt").write_bytes(dev_cert.public_bytes(serialization.Encoding.PEM))
    token.user("cert", "import", str(tmp_path / "dev.crt"))            # labelled like the key
    out = token.user("object", "set-label", "Device Priv TLS Key", "Device Cert TLS", "--type", "cert")
    assert out.stdout.decode().endswith("'Device Priv TLS Key' -> 'Device Cert TLS'\n")
    claim = ec.generate_private_key(ec.SECP256R1())
    claim_cert = certificate(claim, ca, "claim-1", "Claim CA", ca=False)
    (tmp_path / "claim.pem").write_bytes(pem(claim) + claim_cert.public_bytes(serialization.Encoding.PEM))
    token.user("key", "import", str(tmp_path / "claim.pem"), "--label", "Claim Priv TLS Key",
               "--cert-label", "Claim Cert TLS")
    return tmp_path


def test_layout_is_what_pkcs11_tool_sees(esp32, p11tool):
    assert _labels_seen_by_pkcs11_tool(p11tool) >= LAYOUT


def test_identity_by_private_and_certificate_label(esp32, token):
    (esp32 / "data").write_bytes(DATA)
    token.user("sign", "--key", "Device Priv TLS Key", "-i", str(esp32 / "data"), "-o", str(esp32 / "sig"))
    for label in ("Device Priv TLS Key", "Device Cert TLS", "Device Pub TLS Key"):
        out = token.user("verify", "--key", label, "--signature", str(esp32 / "sig"), "-i", str(esp32 / "data"))
        assert out.stdout == b"signature OK\n"
    token("verify", "--cert", str(esp32 / "dev.crt"), "--signature", str(esp32 / "sig"), input=DATA)
    proc = token("verify", "--cert", str(esp32 / "dev.crt"), "--signature", str(esp32 / "sig"),
                 input=DATA + b"x", code=1)
    assert error_line(proc) == "strongroom: error: the signature does not verify"
    by_private = token.user("key", "export-public", "Device Priv TLS Key").stdout
    assert by_private == token.user("key", "export-public", "Device Pub TLS Key").stdout
    assert by_private == token("key", "export-public", "Device Cert TLS", "--token", "t").stdout


def test_identity_without_public_object_uses_certificate_or_key_info(esp32, token):
    """With the public-key object gone, the certificate (or the private key's
    CKA_PUBLIC_KEY_INFO) still gives the public key; verification runs in software."""
    (esp32 / "data").write_bytes(DATA)
    token.user("sign", "--key", "Claim Priv TLS Key", "-i", str(esp32 / "data"), "-o", str(esp32 / "sig"))
    before = token.user("key", "export-public", "Claim Priv TLS Key").stdout
    token.user("key", "delete", "pkcs11:object=Claim%20Priv%20TLS%20Key;type=public")
    for label in ("Claim Priv TLS Key", "Claim Cert TLS"):
        token.user("verify", "--key", label, "--signature", str(esp32 / "sig"), "-i", str(esp32 / "data"))
        assert token.user("key", "export-public", label).stdout == before
    proc = token.user("verify", "--key", "Claim Cert TLS", "--signature", str(esp32 / "sig"),
                      input=DATA + b"x", code=1)
    assert error_line(proc) == "strongroom: error: the signature does not verify"


def test_two_identities_under_one_label_are_ambiguous(esp32, token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "Device Cert TLS", "--id", "77")
    proc = token.user("key", "export-public", "Device Cert TLS", code=2)
    assert error_line(proc) == ("strongroom: error: 2 identities (CKA_IDs) match 'Device Cert TLS': "
                                "add --id HEX or use a pkcs11: URI with id=")
    token.user("key", "export-public", "Device Cert TLS", "--id", "77")


def test_set_label_errors(esp32, token):
    proc = token.user("object", "set-label", "Claim Priv TLS Key", "X", code=2)
    assert error_line(proc) == ("strongroom: error: 2 objects (private, public) match 'Claim Priv TLS Key': "
                                "add --type, --id HEX or use a pkcs11: URI")
    proc = token.user("object", "set-label", "nosuch", "X", code=3)
    assert error_line(proc) == "strongroom: error: no object matches 'nosuch'"
    proc = token.user("key", "generate", "--type", "aes:128", "--label", "a", "--public-label", "b", code=2)
    assert error_line(proc) == "strongroom: error: --public-label is for key pairs: a secret key has no public half"
