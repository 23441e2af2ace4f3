"""`strongroom token init | list | info | delete` and `pin set | unlock | change`, end to end."""
from __future__ import annotations

import json

from cli_support import SO_PIN, USER_PIN, error_line


def test_init_list_info(cli, module):
    out = cli.json("token", "init", "--label", "work", "--so-pin", SO_PIN, "--pin", USER_PIN)
    assert out["label"] == "work" and out["user_pin_set"] is True
    tokens = cli.json("token", "list")
    assert [t["label"] for t in tokens if t.get("label")] == ["work"]
    assert "'work'" in cli.text("token", "list")
    info = cli.json("token", "info", "--token", "work")
    assert info["label"] == "work" and info["module_path"] == module
    assert info["user_pin"] == "ok" and info["so_pin"] == "ok"
    assert "TOKEN_INITIALIZED" in " ".join(info["flags"]).upper()
    storage = info["storage"]
    assert storage["objects"] == 0 and storage["bytes_used"] == 0
    assert storage["quota_objects"] == 100_000 and storage["bytes_free"] == storage["quota_bytes"]
    # A key adds to the used storage.
    cli("key", "generate", "--type", "ec:p256", "--label", "k", "--token", "work", "--pin", USER_PIN)
    info = cli.json("token", "info", "--token", "work", "--pin", USER_PIN)
    assert info["storage"]["objects"] == 2 and info["storage"]["bytes_used"] > 0
    assert info["objects_visible"] == 2
    text = cli.text("token", "info", "--token", "work")
    assert "storage:" in text and module in text


def test_init_refuses_duplicate_label_and_bad_label(cli):
    cli("token", "init", "--label", "dup", "--so-pin", SO_PIN)
    before = cli.json("token", "list")
    proc = cli("token", "init", "--label", "dup", "--so-pin", SO_PIN, code=2)
    assert "dup" in error_line(proc)
    proc = cli("token", "init", "--label", "x" * 33, "--so-pin", SO_PIN, code=2)
    assert "32 bytes" in error_line(proc)
    assert cli.json("token", "list") == before


def test_init_without_so_pin_and_no_terminal_is_an_auth_error(cli):
    proc = cli("token", "init", "--label", "nopin", code=4)
    assert "SO PIN" in error_line(proc)
    assert not [t for t in cli.json("token", "list") if t.get("label") == "nopin"]


def test_info_unknown_token_is_not_found(token):
    proc = token("token", "info", "--token", "nosuch", code=3)
    assert "nosuch" in error_line(proc)


def test_delete_checks_so_pin_then_removes_token_and_objects(token):
    token.user("key", "generate", "--type", "ec:p256", "--label", "gone")
    before = token.snapshot()
    proc = token("token", "delete", "--token", "t", "--so-pin", "wrong-so-pin", code=4)
    error_line(proc)
    assert token.snapshot() == before
    proc = token("token", "delete", "--so-pin", SO_PIN, code=2)      # never an implicit token
    assert "--token" in error_line(proc)
    out = token.json("token", "delete", "--token", "t", "--so-pin", SO_PIN)
    assert out["label"] == "t" and out["objects"] == 2
    assert not [t for t in token.json("token", "list") if t.get("label") == "t"]
    token("token", "info", "--token", "t", code=3)


def test_pin_change_user_and_so(token):
    out = token.json("pin", "change", "--token", "t", "--pin", USER_PIN, "--new-pin", "new-user-pin")
    assert out["changed"] == "user"
    proc = token("key", "list", "--token", "t", "--pin", USER_PIN, code=4)
    error_line(proc)
    token("key", "list", "--token", "t", "--pin", "new-user-pin")
    token("pin", "change", "--so", "--token", "t", "--so-pin", SO_PIN, "--new-pin", "new-so-pin")
    token("pin", "set", "--token", "t", "--so-pin", SO_PIN, "--pin", "x-user-pin", code=4)
    token("pin", "set", "--token", "t", "--so-pin", "new-so-pin", "--pin", USER_PIN)
    token.user("key", "list")


def test_pin_from_sources(token, tmp_path, monkeypatch):
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(USER_PIN + "\n")
    token("key", "list", "--token", "t", "--pin-source", f"file:{pin_file}")
    token.env["MY_PIN"] = USER_PIN
    token("key", "list", "--token", "t", "--pin-source", "env:MY_PIN")
    proc = token("key", "list", "--token", "t", "--pin-source", f"file:{tmp_path / 'none'}", code=4)
    assert "no such file" in error_line(proc)


def test_locked_user_pin_then_unlock(token):
    # tests/support.py sets pin_max_tries = 5
    for _ in range(5):
        token("key", "list", "--token", "t", "--pin", "wrong-pin", code=4)
    proc = token("key", "list", "--token", "t", "--pin", USER_PIN, code=4)
    assert "lock" in error_line(proc).lower()
    info = token.json("token", "info", "--token", "t")
    assert info["user_pin"] == "locked" and info["storage"]["user_pin_failures"] >= 5
    token("pin", "unlock", "--token", "t", "--so-pin", SO_PIN, "--pin", "fresh-pin")
    token("key", "list", "--token", "t", "--pin", "fresh-pin")
    assert token.json("token", "info", "--token", "t")["user_pin"] == "ok"


def test_wrong_pin_message_holds_no_pin(token):
    proc = token("key", "list", "--token", "t", "--pin", "sekrit-wrong", code=4)
    assert b"sekrit-wrong" not in proc.stderr + proc.stdout
    json.dumps(error_line(proc))
