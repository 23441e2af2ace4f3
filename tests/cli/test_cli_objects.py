"""`strongroom objects` and the framework: --json everywhere parses, errors are one line."""
from __future__ import annotations

import json

from cli_support import STRONGROOM, USER_PIN, error_line


def test_objects_shows_attributes_and_hides_secrets(token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "o", "--id", "05")
    token.user("key", "generate", "--type", "aes:256", "--label", "sym", "--extractable")
    objs = token.json("objects", "--token", "t", "--pin", USER_PIN)
    by = {(o["type"], o["label"]): o for o in objs}
    assert set(by) == {("private", "o"), ("public", "o"), ("secret-key", "sym")}
    assert by[("private", "o")]["attributes"]["CKA_VALUE"] == "<sensitive>"
    assert by[("public", "o")]["attributes"]["CKA_EC_POINT"] != "<sensitive>"
    text = token.text("objects", "--token", "t", "--pin", USER_PIN)
    assert "<sensitive>" in text and "CKA_LABEL" in text
    # Without a PIN only public objects (and a note on stderr).
    proc = token("objects", "--token", "t", "--json")
    assert {o["type"] for o in json.loads(proc.stdout)} == {"public"}
    assert b"not logged in" in proc.stderr


def test_json_outputs_parse(token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "j")
    assert isinstance(token.json("token", "list"), list)
    for args in (["token", "info"], ["key", "list"], ["key", "show", "j"], ["cert", "list"], ["objects"]):
        json.loads(token.user(*args, "--json").stdout)


def test_usage_errors_and_module_path(cli, module):
    assert cli.text("module-path").strip() == module
    proc = cli("key", code=2)
    assert b"usage" in proc.stderr
    proc = cli(code=2)
    assert b"usage" in proc.stderr
    assert STRONGROOM.endswith("strongroom")


def test_other_module_softhsm(tmp_path, cli):
    """--module loads any PKCS#11 module: SoftHSM2 through the same commands."""
    import os
    softhsm = "/usr/lib/softhsm/libsofthsm2.so"
    if not os.path.exists(softhsm):
        import pytest
        pytest.skip("SoftHSM2 not installed")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    cli.env["SOFTHSM2_CONF"] = str(conf)
    m = ["--module", softhsm]
    cli("token", "init", "--label", "soft", "--so-pin", "so-pin-1", "--pin", "user-pin-1", *m)
    assert "soft" in [t.get("label") for t in cli.json("token", "list", *m)]
    cli("key", "generate", "--type", "ec:p256", "--label", "k", "--token", "soft", "--pin", "user-pin-1", *m)
    listed = json.loads(cli("key", "list", "--token", "soft", "--pin", "user-pin-1", "--json", *m).stdout)
    assert {o["type"] for o in listed} == {"private", "public"}
    proc = cli("token", "delete", "--token", "soft", "--so-pin", "so-pin-1", *m, code=2)
    assert "strongroom" in error_line(proc)
