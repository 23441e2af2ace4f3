"""`strongroom key ...` end to end: generation, every import format, listing, export,
deletion; bad input leaves the store unchanged and names the file."""
from __future__ import annotations

import json
import re

import cli_keys as K
import pytest
from cli_support import USER_PIN, error_line
from cryptography.hazmat.primitives import serialization


def _labels(objs, kind=None):
    return sorted((o["type"], o["label"]) for o in objs if kind is None or o["type"] == kind)


@pytest.mark.parametrize("kind,types", [
    ("ec:p256", {"private", "public"}), ("rsa:2048", {"private", "public"}),
    ("ed25519", {"private", "public"}), ("aes:256", {"secret-key"})])
def test_generate_list_show_delete(token, p11tool, kind, types):
    out = token.json("key", "generate", "--type", kind, "--label", "gen", "--id", "a1b2",
                     "--token", "t", "--pin", USER_PIN)
    assert {o["type"] for o in out} == types and all(o["id"] == "a1b2" for o in out)
    listed = token.json("key", "list", "--token", "t", "--pin", USER_PIN)
    assert {(o["type"], o["label"], o["id"]) for o in listed} == {(t, "gen", "a1b2") for t in types}
    shown = token.json("key", "show", "gen", "--token", "t", "--pin", USER_PIN)
    assert {o["type"] for o in shown} == types
    for o in shown:
        if o["type"] != "public":
            assert o["attributes"]["CKA_VALUE" if o["type"] == "secret-key" else next(
                a for a in o["attributes"] if a in ("CKA_PRIVATE_EXPONENT", "CKA_VALUE"))] == "<sensitive>"
    seen = p11tool.run("--login", "--pin", USER_PIN, "-O").stdout
    assert "label:      gen" in seen and "ID:         a1b2" in seen
    deleted = token.json("key", "delete", "gen", "--token", "t", "--pin", USER_PIN)
    assert {o["type"] for o in deleted} == types
    assert token.json("key", "list", "--token", "t", "--pin", USER_PIN) == []


def test_generate_extractable_and_allowed_mechanisms(token, p11tool):
    token.user("key", "generate", "--type", "ec:p256", "--label", "lim", "--id", "07",
               "--allowed-mechanisms", "ECDSA-SHA256", "--extractable")
    shown = token.json("key", "show", "lim", "--token", "t", "--pin", USER_PIN)
    priv = next(o for o in shown if o["type"] == "private")
    assert priv["attributes"]["CKA_EXTRACTABLE"] is True
    assert "ECDSA_SHA256" in json.dumps(priv["attributes"]["CKA_ALLOWED_MECHANISMS"]).upper()


def test_generate_bad_type_is_usage_or_unsupported_and_changes_nothing(token):
    before = token.snapshot()
    proc = token.user("key", "generate", "--type", "ec:p999", "--label", "bad", check=False)
    assert proc.returncode in (1, 2)
    error_line(proc)
    assert token.snapshot() == before


def test_generate_refuses_duplicate_label_and_id(token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "d", "--id", "01")
    before = token.snapshot()
    proc = token.user("key", "generate", "--type", "ec:p256", "--label", "d", "--id", "01", code=2)
    assert "already holds" in error_line(proc)
    assert token.snapshot() == before


def test_export_public_pem_and_der(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "pub", "--id", "02")
    pem = token.user("key", "export-public", "pub").stdout
    public = serialization.load_pem_public_key(pem)
    out = tmp_path / "pub.der"
    token.user("key", "export-public", "pub", "--der", "-o", str(out))
    assert serialization.load_der_public_key(out.read_bytes()) == public
    # the public key needs no login
    assert token("key", "export-public", "pub", "--token", "t").stdout == pem


def test_import_pem_then_sign_verify_with_pyca(token, tmp_path, p11tool):
    path = tmp_path / "ec.pem"
    path.write_bytes(K.pem(K.ec_key()))
    out = token.json("key", "import", str(path), "--label", "imp", "--id", "0a", "--token", "t", "--pin", USER_PIN)
    assert _labels(out["objects"]) == [("private", "imp"), ("public", "imp")]
    pem = token.user("key", "export-public", "imp").stdout
    assert serialization.load_pem_public_key(pem) == K.ec_key().public_key()
    assert "label:      imp" in p11tool.run("--login", "--pin", USER_PIN, "-O").stdout


@pytest.mark.parametrize("fmt", ["pem", "der"])
def test_import_encrypted_pkcs8(token, tmp_path, fmt):
    path = tmp_path / f"enc.{fmt}"
    path.write_bytes((K.pem if fmt == "pem" else K.der)(K.ec_key(), K.PASSWORD))
    before = token.snapshot()
    for extra, code, words in ((["--password", "wrong-password"], 2, "wrong password"),
                               ([], 2, "encrypted")):
        proc = token.user("key", "import", str(path), "--label", "e", *extra, code=code)
        line = error_line(proc)
        assert str(path) in line and words in line
        assert b"wrong-password" not in proc.stderr
        assert token.snapshot() == before
    token.env["KEYPASS"] = K.PASSWORD.decode()
    out = token.json("key", "import", str(path), "--label", "e", "--password-source", "env:KEYPASS",
                     "--token", "t", "--pin", USER_PIN)
    # default id: SHA-1 of the SubjectPublicKeyInfo (20 bytes)
    assert {o["id"] for o in out["objects"]} == {out["objects"][0]["id"]} and len(out["objects"][0]["id"]) == 40


def test_import_pkcs12_with_chain(token, tmp_path):
    path = tmp_path / "device.p12"
    _leaf_key, leaf_cert, ca_cert = K.pkcs12_bundle(path)   # friendly name "device-007"
    before = token.snapshot()
    proc = token.user("key", "import", str(path), "--password", "nope", code=2)
    line = error_line(proc)
    assert str(path) in line and "PKCS#12" in line
    assert token.snapshot() == before
    out = token.json("key", "import", str(path), "--password", K.PASSWORD.decode(), "--id", "0c0c",
                     "--token", "t", "--pin", USER_PIN)
    objs = out["objects"]
    assert _labels(objs) == [("cert", "Test Root CA"), ("cert", "device-007"), ("private", "device-007"),
                             ("public", "device-007")]
    assert {o["id"] for o in objs if o["label"] == "device-007"} == {"0c0c"}
    leaf_pem = token.user("cert", "export", "device-007", "--id", "0c0c").stdout
    assert leaf_pem == leaf_cert.public_bytes(serialization.Encoding.PEM)
    ca_der = token.user("cert", "export", "Test Root CA", "--der").stdout
    assert ca_der == ca_cert.public_bytes(serialization.Encoding.DER)


def test_import_raw_aes_hex_and_bytes(token, tmp_path):
    (tmp_path / "k.hex").write_text("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")
    (tmp_path / "k.bin").write_bytes(bytes(range(16)))
    token.user("key", "import", str(tmp_path / "k.hex"), "--type", "aes", "--label", "aes-hex")
    token.user("key", "import", str(tmp_path / "k.bin"), "--type", "aes", "--label", "aes-bin")
    listed = token.json("key", "list", "--token", "t", "--pin", USER_PIN)
    assert _labels(listed) == [("secret-key", "aes-bin"), ("secret-key", "aes-hex")]
    shown = token.json("objects", "--token", "t", "--pin", USER_PIN)
    lens = {o["label"]: o["attributes"].get("CKA_VALUE_LEN") for o in shown}
    assert lens == {"aes-hex": 32, "aes-bin": 16}
    (tmp_path / "bad.bin").write_bytes(b"\x01" * 17)
    before = token.snapshot()
    proc = token.user("key", "import", str(tmp_path / "bad.bin"), "--type", "aes", "--label", "x", code=2)
    assert "bad.bin" in error_line(proc)
    assert token.snapshot() == before


def test_malformed_pem_missing_file_unknown_label_wrong_pin(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "present")
    before = token.snapshot()
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 at all!!\n-----END PRIVATE KEY-----\n")
    proc = token.user("key", "import", str(bad), "--label", "b", code=2)
    assert str(bad) in error_line(proc)
    proc = token.user("key", "import", str(tmp_path / "absent.pem"), "--label", "b", code=3)
    assert "absent.pem" in error_line(proc)
    for args in (["key", "show", "nosuch"], ["key", "delete", "nosuch"], ["key", "export-public", "nosuch"],
                 ["cert", "export", "nosuch"]):
        proc = token.user(*args, code=3)
        assert "nosuch" in error_line(proc)
    proc = token("key", "delete", "present", "--token", "t", "--pin", "wrong-pin", code=4)
    error_line(proc)
    proc = token.user("key", "show", "pkcs11:id=%zz", code=2)
    error_line(proc)
    proc = token.user("key", "show", "present", "--id", "xyz", code=2)     # argparse
    assert token.snapshot() == before


def test_no_output_ever_holds_the_private_key(token, tmp_path):
    key = K.ec_key()
    path = tmp_path / "known.pem"
    path.write_bytes(K.pem(key))
    scalar = K.EC_SCALAR.to_bytes(32, "big")
    forbidden = [scalar, scalar.hex().encode(), scalar.hex().upper().encode(), K.pem(key),
                 K.der(key), K.pem(key).splitlines()[1]]
    outputs = [token.user("key", "import", str(path), "--label", "known", "--id", "99", "--json")]
    for args in (["key", "list"], ["key", "list", "--json"], ["key", "show", "known"],
                 ["key", "show", "known", "--json"], ["objects"], ["objects", "--json"],
                 ["key", "export-public", "known"], ["key", "export-public", "known", "--der"],
                 ["token", "info", "--json"]):
        outputs.append(token.user(*args))
    for proc in outputs:
        for secret in forbidden:
            assert secret not in proc.stdout and secret not in proc.stderr
    # the whole scalar as any-case hex with separators
    pattern = re.compile(b"[:\\s]?".join(re.escape(f"{b:02x}".encode()) for b in scalar), re.I)
    assert not any(pattern.search(p.stdout) for p in outputs)


def test_uri_selectors_for_token_and_objects(token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "u", "--id", "0102")
    token.user("key", "generate", "--type", "ec:p256", "--label", "u", "--id", "0304")
    pin = ["--pin", USER_PIN]
    shown = token.json("key", "show", "pkcs11:object=u;type=private;id=%01%02", "--token", "pkcs11:token=t", *pin)
    assert [(o["type"], o["id"]) for o in shown] == [("private", "0102")]
    # a listing's uri selects exactly that object again
    assert token.json("key", "show", shown[0]["uri"], "--token", "t", *pin)[0]["uri"] == shown[0]["uri"]
    assert {o["id"] for o in token.json("key", "show", "u", "--id", "0304", "--token", "t", *pin)} == {"0304"}
    # two keys named u: signing needs the id
    proc = token.user("sign", "--key", "u", input=b"x", code=2)
    assert "--id" in error_line(proc)
    token.user("sign", "--key", "u", "--id", "0304", input=b"x")
    token("key", "list", "--token", "pkcs11:token=nosuch", *pin, code=3)
    deleted = token.json("key", "delete", "pkcs11:id=%01%02", "--token", "t", *pin)
    assert {(o["type"], o["id"]) for o in deleted} == {("private", "0102"), ("public", "0102")}


def test_no_output_holds_imported_rsa_or_aes_secrets(token, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.der").write_bytes(K.der(rsa_key))
    aes = bytes.fromhex("5a" * 4 + "c3" * 4 + "0f1e2d3c4b5a6978" * 3)
    (tmp_path / "aes.bin").write_bytes(aes)
    outputs = [token.user("key", "import", str(tmp_path / "rsa.der"), "--label", "r", "--extractable"),
               token.user("key", "import", str(tmp_path / "aes.bin"), "--type", "aes", "--label", "a",
                          "--extractable")]
    for args in (["key", "show", "r", "--json"], ["key", "show", "a"], ["objects"], ["objects", "--json"],
                 ["key", "list", "--json"]):
        outputs.append(token.user(*args))
    n = rsa_key.private_numbers()
    secrets = [aes, aes.hex().encode(), aes.hex().upper().encode()]
    for value in (n.d, n.p, n.q):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        secrets += [raw[:32], raw.hex().encode()[:64], raw.hex().upper().encode()[:64]]
    for proc in outputs:
        for secret in secrets:
            assert secret not in proc.stdout and secret not in proc.stderr
    assert b"<sensitive>" in outputs[2].stdout
