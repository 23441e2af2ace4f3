"""OpenSC's pkcs11-tool (a C host) driving the real module, checked with OpenSSL -- each
test twice: with the in-process module, and with the client module
(libstrongroom-client.so) reaching a token service that owns the same kind of home."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.modules import client_path
from support import SO_PIN, USER_PIN, Tool, make_home

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from service_support import Service


@pytest.fixture(params=["in-process", "service"])
def tool(request: pytest.FixtureRequest, module: str, tmp_path: Path) -> Iterator[Tool]:
    home = tmp_path / "home"
    make_home(home)
    if request.param == "in-process":
        yield Tool(module, home)
        return
    if not client_path().is_file():
        pytest.skip("libstrongroom-client.so not built")
    svc = Service(home, tmp_path / "service.sock")
    via = Tool(str(client_path()), home)
    via.env["STRONGROOM_SERVICE"] = f"unix:{svc.socket}"
    try:
        yield via
    finally:
        svc.stop()


def openssl_verify(pub_der, data, sig, digest="-sha256") -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "dgst", digest, "-verify", str(pub_der), "-keyform", "DER",
                           "-signature", str(sig), str(data)], capture_output=True, text=True)


def test_lists_one_free_slot_on_a_new_home(tool: Tool):
    out = tool.run("--list-slots", token=None).stdout
    assert out.count("Slot ") == 1 and "uninitialized" in out
    info = tool.run("--show-info", token=None).stdout
    assert "strongroom" in info and "3.0" in info


def test_init_token_creates_a_new_free_slot_and_keeps_ids(tool: Tool):
    tool.init_token("first")
    tool.init_token("second")
    out = tool.run("--list-slots", token=None).stdout
    assert "Slot 0 (0x0)" in out and "Slot 1 (0x1)" in out and "Slot 2 (0x2)" in out
    assert "first" in out and "second" in out and out.count("uninitialized") == 1
    assert "login required" in out and "PIN initialized" in out


@pytest.mark.parametrize("key_type,mechanism,digest", [
    ("EC:prime256v1", "ECDSA-SHA256", "-sha256"),
    # P-384 is covered by the python-pkcs11 suite: pkcs11-tool 0.23 cannot export a P-384
    # public key with OpenSSL 3 ("cannot create EVP_PKEY", the same against SoftHSM2).
    ("RSA:2048", "SHA256-RSA-PKCS", "-sha256"),
])
def test_keygen_sign_and_verify_with_openssl(tool: Tool, tmp_path, key_type, mechanism, digest):
    tool.init_token()
    tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", key_type,
             "--label", "device", "--id", "a1")
    data, sig, pub = tmp_path / "data", tmp_path / "sig", tmp_path / "pub.der"
    data.write_bytes(b"to be signed\n" * 100)
    args = ["--login", "--pin", USER_PIN, "--sign", "--id", "a1", "--mechanism", mechanism,
            "--input-file", str(data), "--output-file", str(sig)]
    if key_type.startswith("EC"):
        args += ["--signature-format", "openssl"]
    tool.run(*args)
    tool.run("--read-object", "--type", "pubkey", "--id", "a1", "--output-file", str(pub))
    result = openssl_verify(pub, data, sig, digest)
    assert result.returncode == 0 and "Verified OK" in result.stdout
    data.write_bytes(b"tampered")
    assert openssl_verify(pub, data, sig, digest).returncode != 0


def test_secret_values_cannot_be_read(tool: Tool, tmp_path):
    tool.init_token()
    tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
             "--label", "device", "--id", "01")
    # pkcs11-tool sends CKA_PRIVATE=false unless --private is given.
    tool.run("--login", "--pin", USER_PIN, "--keygen", "--key-type", "AES:32", "--label", "aes",
             "--id", "02", "--private")
    out = tmp_path / "aes.bin"
    proc = tool.run("--login", "--pin", USER_PIN, "--read-object", "--type", "secrkey", "--id", "02",
                    "--output-file", str(out), check=False)
    assert proc.returncode != 0
    assert not out.exists() or out.stat().st_size == 0
    listing = tool.run("--login", "--pin", USER_PIN, "--list-objects").stdout
    assert "Private Key Object; EC" in listing and "never extractable" in listing
    # Without login private objects are invisible.
    public_listing = tool.run("--list-objects").stdout
    assert "Private Key Object" not in public_listing and "Secret Key Object" not in public_listing
    assert "Public Key Object; EC" in public_listing


def test_wrong_pin_is_pin_incorrect(tool: Tool):
    tool.init_token()
    proc = tool.run("--login", "--pin", "not-the-pin", "--list-objects", check=False)
    assert proc.returncode != 0
    assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr


def test_pin_lockout_persists_across_processes(tool: Tool):
    tool.init_token()
    for _ in range(5):                      # tests' config: pin_max_tries = 5, one process each
        proc = tool.run("--login", "--pin", "wrong-pin", "--list-objects", check=False)
        assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr
    proc = tool.run("--login", "--pin", USER_PIN, "--list-objects", check=False)
    assert "CKR_PIN_LOCKED" in proc.stdout + proc.stderr
    assert "user PIN locked" in tool.run("--list-slots", token=None).stdout
    # The SO re-initialises the user PIN; the lock is gone.
    tool.run("--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin", "--pin", "new-user-pin")
    tool.run("--login", "--pin", "new-user-pin", "--list-objects")


def test_change_pin(tool: Tool):
    tool.init_token()
    tool.run("--login", "--pin", USER_PIN, "--change-pin", "--new-pin", "another-pin")
    tool.run("--login", "--pin", "another-pin", "--list-objects")
    proc = tool.run("--login", "--pin", USER_PIN, "--list-objects", check=False)
    assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr


def test_mechanism_list_comes_from_the_registry(tool: Tool):
    tool.init_token()
    out = tool.run("--list-mechanisms").stdout
    lines = {line.strip().split(",")[0]: line for line in out.splitlines() if line.startswith("  ")}
    for name in ("SHA256", "ECDSA", "ECDSA-SHA256", "ECDSA-KEY-PAIR-GEN", "RSA-PKCS-KEY-PAIR-GEN",
                 "RSA-PKCS", "SHA256-RSA-PKCS", "AES-KEY-GEN", "AES-GCM", "AES-CBC-PAD"):
        assert name in lines, f"{name} missing from:\n{out}"
    assert "sign" in lines["ECDSA"] and "verify" in lines["ECDSA"] and "hw" not in lines["ECDSA"]
    assert "generate_key_pair" in lines["ECDSA-KEY-PAIR-GEN"]
    assert "keySize={16,32}" in lines["AES-GCM"]


def test_fork_child_must_initialize_again(tool: Tool):
    tool.init_token()
    proc = tool.run("--test-fork", "--login", "--pin", USER_PIN, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pkcs11_tool_test_runs_signatures_with_allow_sw(tool: Tool):
    """``--test`` skips its signature test unless a mechanism has CKF_HW, which a software
    token must not claim; with ``--allow-sw`` it runs (CKM_RSA_PKCS is single-part, so its
    C_SignUpdate answers CKR_FUNCTION_NOT_SUPPORTED, which pkcs11-tool only warns about)."""
    tool.init_token()
    login = ["--login", "--pin", USER_PIN]
    tool.run(*login, "--keypairgen", "--key-type", "rsa:2048", "--id", "01", "--label", "rsa")
    plain = tool.run(*login, "--test").stdout
    assert "No errors" in plain and "Signatures: not implemented" in plain
    out = tool.run(*login, "--test", "--allow-sw").stdout
    assert "No errors" in out, out
    assert "Signatures (currently only for RSA)" in out and "RSA-PKCS: OK" in out
    assert "SHA256-RSA-PKCS: OK" in out


def test_pkcs11_tool_test_ec(tool: Tool):
    tool.init_token()
    out = tool.run("--test-ec", "--session-rw", "--login", "--pin", USER_PIN, "--id", "03",
                   "--key-type", "EC:prime256v1").stdout
    assert "==> OK" in out, out
