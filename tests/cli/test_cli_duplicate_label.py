"""Issue 11 item 16: a second object with a label already on the token is created (labels
need not be unique; objects sharing a CKA_ID are one identity) but the command warns, in
one stderr line naming the existing object, that the label alone is now ambiguous."""
from __future__ import annotations

from cli_keys import ec_key, pem
from cli_support import error_line

HINT = "the label alone is now ambiguous; select by --id HEX or a pkcs11: URI with id="


def _warning(proc) -> str:
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr.decode(), lines
    return lines[0]


def test_generate_twice_warns_and_succeeds(token):
    first = token.user("key", "generate", "--type", "ec:p256", "--label", "web", "--id", "01")
    assert first.stderr == b""
    second = token.user("key", "generate", "--type", "ec:p256", "--label", "web", "--id", "02")
    assert _warning(second) == f"strongroom: warning: the token already holds private key 'web' (id 01): {HINT}"
    assert len(token.json("key", "list", "--token", "t", "--pin", "user-pin-1234")) == 4
    proc = token.user("key", "generate", "--type", "ec:p256", "--label", "web", "--id", "02", code=2)
    assert "already holds 2 object(s) labelled 'web' with id 02" in error_line(proc)


def test_import_warns_for_the_public_and_cert_labels(token, tmp_path):
    token.user("key", "generate", "--type", "ed25519", "--label", "other", "--public-label", "Device Pub TLS Key",
               "--id", "09")
    (tmp_path / "k.pem").write_bytes(pem(ec_key()))
    proc = token.user("key", "import", str(tmp_path / "k.pem"), "--label", "Device Priv TLS Key",
                      "--public-label", "Device Pub TLS Key")
    assert _warning(proc) == ("strongroom: warning: the token already holds public key 'Device Pub TLS Key' "
                              f"(id 09): {HINT}")
    proc = token.user("key", "import", str(tmp_path / "k.pem"), "--label", "x", "--cert-label", "c", code=2)
    assert error_line(proc) == (f"strongroom: error: {tmp_path / 'k.pem'}: --cert-label given but the file "
                                "holds no certificate for the key")


def test_cert_import_warns_for_a_label_in_use(token, tmp_path):
    from cli_keys import certificate
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca = ec.generate_private_key(ec.SECP256R1())
    token.user("key", "generate", "--type", "ec:p256", "--label", "dev", "--id", "0d")
    (tmp_path / "ca.crt").write_bytes(certificate(ca, ca, "CA", "CA", ca=True).public_bytes(serialization.Encoding.PEM))
    token.user("cert", "import", str(tmp_path / "ca.crt"), "--id", "c1", "--cert-label", "root")
    proc = token.user("cert", "import", str(tmp_path / "ca.crt"), "--id", "c2", "--cert-label", "root")
    assert _warning(proc) == f"strongroom: warning: the token already holds certificate 'root' (id c1): {HINT}"
