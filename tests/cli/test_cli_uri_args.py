"""Issue 11 item 2: what a pkcs11: URI on the command line carries (token, serial,
slot-id, pin-value, pin-source, module-path) is honoured by every command that takes a
token or an object, exactly as the Python API honours it."""
from __future__ import annotations

import pytest
from cli_support import USER_PIN, error_line


@pytest.fixture
def two_tokens(token, p11tool):
    """Tokens 't' and 'u' (same PINs), key 'k' on 't' only."""
    p11tool.init_token("u")
    token.user("key", "generate", "--type", "ec:p256", "--label", "k", "--id", "01")
    return token


def _slot_of(cli, label: str) -> int:
    tokens = cli.json("token", "list")
    return next(t["slot_id"] for t in tokens if t["label"] == label)


def test_key_uri_pin_value_logs_in(two_tokens):
    uri = f"pkcs11:token=t;object=k?pin-value={USER_PIN}"
    sig = two_tokens("sign", "--key", uri, input=b"data").stdout
    assert sig[:1] == b"\x30"                        # a DER ECDSA signature, made on token t


def test_key_uri_token_picks_among_two_without_token_option(two_tokens):
    """Without the URI's token= this is ambiguous (two tokens); with it, no --token needed."""
    proc = two_tokens("sign", "--key", "k", "--pin", USER_PIN, input=b"d", code=2)
    assert "2 tokens" in error_line(proc)
    shown = two_tokens.json("key", "show", "pkcs11:token=t;object=k;type=private", "--pin", USER_PIN)
    assert [o["type"] for o in shown] == ["private"]


def test_token_uri_slot_id_and_pin_source(two_tokens, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text(USER_PIN + "\n")
    slot = _slot_of(two_tokens, "t")
    target = f"pkcs11:slot-id={slot}?pin-source=file:{pin_file}"
    out = two_tokens.json("key", "list", "--token", target)
    assert {o["type"] for o in out} == {"private", "public"}     # logged in: the private key is listed
    sig = two_tokens("sign", "--key", "k", "--token", target, input=b"data").stdout
    assert sig[:1] == b"\x30"


def test_token_uri_serial_selects(two_tokens):
    serial = next(t["serial"] for t in two_tokens.json("token", "list") if t["label"] == "t")
    target = f"pkcs11:serial={serial}?pin-value={USER_PIN}"
    out = two_tokens.json("key", "list", "--token", target)
    assert {(o["label"], o["type"]) for o in out} == {("k", "private"), ("k", "public")}
    two_tokens("key", "delete", "k", "--token", target)      # a command that insists on a PIN
    assert two_tokens.json("key", "list", "--token", target) == []


def test_uri_pin_value_wrong_is_an_auth_error(two_tokens):
    proc = two_tokens("sign", "--key", "pkcs11:token=t;object=k?pin-value=wrong-pin", input=b"d", code=4)
    line = error_line(proc)
    assert "wrong-pin" not in line and "incorrect user PIN" in line


def test_option_pin_wins_over_uri_pin(two_tokens):
    two_tokens("sign", "--key", "pkcs11:token=t;object=k?pin-value=wrong-pin", "--pin", USER_PIN, input=b"d")


def test_uri_pin_source_missing_file_names_source(two_tokens, tmp_path):
    missing = tmp_path / "absent"
    proc = two_tokens("key", "delete", f"pkcs11:token=t;object=k?pin-source=file:{missing}", code=4)
    assert error_line(proc) == f"strongroom: error: PIN source 'file:{missing}': no such file"


def test_export_public_without_login_takes_token_from_uri(two_tokens):
    """No PIN needed, still two tokens: the object URI's token= picks one."""
    pem = two_tokens("key", "export-public", "pkcs11:token=t;object=k;type=public").stdout
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    proc = two_tokens("key", "export-public", "pkcs11:token=u;object=k;type=public", code=3)
    assert error_line(proc) == ("strongroom: error: no key or certificate matches "
                                "'pkcs11:token=u;object=k;type=public' (private keys need a PIN: --pin-source)")


def test_uri_module_path_loads_that_module(two_tokens, module):
    two_tokens("sign", "--key", f"pkcs11:token=t;object=k?module-path={module}&pin-value={USER_PIN}", input=b"d")
    proc = two_tokens("sign", "--key", f"pkcs11:token=t;object=k?module-path=/nonexistent.so&pin-value={USER_PIN}",
                      input=b"d", code=1)
    assert error_line(proc) == "strongroom: error: PKCS#11 module not found: /nonexistent.so"
