"""`strongroom cert import | list | export`: certificates matched to keys by CKA_ID."""
from __future__ import annotations

import cli_keys as K
from cli_support import USER_PIN, error_line
from cryptography.hazmat.primitives import serialization


def test_import_matches_key_id_then_list_and_export(token, tmp_path, p11tool):
    key = K.ec_key()
    (tmp_path / "k.pem").write_bytes(K.pem(key))
    token.user("key", "import", str(tmp_path / "k.pem"), "--label", "dev", "--id", "beef")
    cert = K.certificate(key, key, "dev.example", "dev.example", ca=False)
    (tmp_path / "c.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    out = token.json("cert", "import", str(tmp_path / "c.der"), "--token", "t", "--pin", USER_PIN)
    assert out["id"] == "beef" and out["label"] == "dev" and out["type"] == "cert"
    listed = token.json("cert", "list", "--token", "t")
    assert [(c["label"], c["id"], c["subject"]) for c in listed] == [("dev", "beef", "CN=dev.example")]
    assert "dev.example" in token.text("cert", "list", "--token", "t")
    pem = token("cert", "export", "dev", "--token", "t").stdout
    assert pem == cert.public_bytes(serialization.Encoding.PEM)
    out_file = tmp_path / "back.der"
    token("cert", "export", "--id", "beef", "--der", "-o", str(out_file), "--token", "t")
    assert out_file.read_bytes() == cert.public_bytes(serialization.Encoding.DER)
    assert "Certificate Object" in p11tool.run("-O").stdout


def test_import_without_matching_key_needs_id(token, tmp_path):
    key = K.ec_key()
    cert = K.certificate(key, key, "lonely", "lonely", ca=False)
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    before = token.snapshot()
    proc = token.user("cert", "import", str(tmp_path / "c.pem"), code=3)
    assert "c.pem" in error_line(proc) and "--id" in error_line(proc)
    assert token.snapshot() == before
    out = token.json("cert", "import", str(tmp_path / "c.pem"), "--id", "01", "--token", "t", "--pin", USER_PIN)
    assert out["label"] == "lonely"


def test_malformed_certificate(token, tmp_path):
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (tmp_path / "bad.der").write_bytes(b"\x30\x03\x02\x01\x01")
    before = token.snapshot()
    for name in ("bad.pem", "bad.der"):
        proc = token.user("cert", "import", str(tmp_path / name), "--id", "01", code=2)
        assert name in error_line(proc)
    assert token.snapshot() == before
