"""`strongroom sign | verify | encrypt | decrypt` over files and stdin/stdout (binary)."""
from __future__ import annotations

import subprocess

import pytest
from cli_support import error_line
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

DATA = bytes(range(256)) * 3 + b"\x00\r\n\xff"


def test_sign_stdin_verify_with_openssl_and_cli(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "s", "--id", "01")
    sig = token.user("sign", "--key", "s", "-m", "ECDSA-SHA256", input=DATA).stdout
    public = serialization.load_pem_public_key(token.user("key", "export-public", "s").stdout)
    public.verify(sig, DATA, ec.ECDSA(hashes.SHA256()))          # DER ECDSA signature
    (tmp_path / "data.bin").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "pub.pem").write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                    str(tmp_path / "sig"), str(tmp_path / "data.bin")], check=True, capture_output=True)
    out = token("verify", "--key", "s", "-m", "ECDSA-SHA256", "--signature", str(tmp_path / "sig"),
                "-i", str(tmp_path / "data.bin"), "--token", "t")
    assert b"OK" in out.stdout
    proc = token("verify", "--key", "s", "-m", "ECDSA-SHA256", "--signature", str(tmp_path / "sig"),
                 "--token", "t", input=DATA + b"x", code=1)
    assert "does not verify" in error_line(proc)


def test_raw_signature_format(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p384", "--label", "r")
    raw = token.user("sign", "--key", "r", "-m", "ECDSA-SHA384", "--signature-format", "raw", input=DATA).stdout
    assert len(raw) == 96
    (tmp_path / "sig").write_bytes(raw)
    token("verify", "--key", "r", "-m", "ecdsa-sha384", "--signature-format", "raw", "--signature",
          str(tmp_path / "sig"), "--token", "t", input=DATA)
    proc = token("verify", "--key", "r", "-m", "ECDSA-SHA384", "--signature", str(tmp_path / "sig"),
                 "--token", "t", input=DATA, code=2)
    assert "DER" in error_line(proc)


def test_sign_to_file_default_mechanism_ed25519(token, tmp_path):
    token.user("key", "generate", "--type", "ed25519", "--label", "ed")
    (tmp_path / "in").write_bytes(DATA)
    token.user("sign", "--key", "ed", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "sig"))
    public = serialization.load_pem_public_key(token.user("key", "export-public", "ed").stdout)
    public.verify((tmp_path / "sig").read_bytes(), DATA)


@pytest.mark.parametrize("kind,mech", [("aes:256", "AES-GCM"), ("aes:128", "AES-CBC-PAD"),
                                       ("rsa:2048", "RSA-PKCS-OAEP")])
def test_encrypt_decrypt_round_trip(token, kind, mech):
    token.user("key", "generate", "--type", kind, "--label", "enc")
    plain = DATA[:150] if kind.startswith("rsa") else DATA
    ct = token.user("encrypt", "--key", "enc", "-m", mech, input=plain).stdout
    assert ct != plain and plain not in ct
    assert token.user("decrypt", "--key", "enc", "-m", mech, input=ct).stdout == plain


def test_sign_errors(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "s")
    proc = token.user("sign", "--key", "nosuch", input=b"x", code=3)
    assert "nosuch" in error_line(proc)
    proc = token("sign", "--key", "s", "--token", "t", "--pin", "bad-pin", input=b"x", code=4)
    error_line(proc)
    proc = token.user("sign", "--key", "s", "-i", str(tmp_path / "absent"), code=3)
    assert "absent" in error_line(proc)
    proc = token.user("sign", "--key", "s", "-m", "RSA-PKCS", input=b"x", check=False)
    assert proc.returncode in (1, 2)
    error_line(proc)
