"""`strongroom token reset`, end to end: the way out of a locked SO PIN for one token,
leaving the home's other tokens as they were."""
from __future__ import annotations

import os
import sqlite3
import subprocess

from cli_support import SO_PIN, STRONGROOM, USER_PIN, error_line


def _so_wrap(home, label: str) -> bytes:
    conn = sqlite3.connect(home / "strongroom.db")
    try:
        return bytes(conn.execute("SELECT so_wrap FROM tokens WHERE label = ?", (label,)).fetchone()[0])
    finally:
        conn.close()


def _in_any_file(home, secret: bytes) -> list[str]:
    return [p.name for p in home.rglob("*") if p.is_file() and secret in p.read_bytes()]


def _lock_so_pin(cli, label: str) -> None:
    """pin_max_tries = 5 in the test home: five wrong SO PINs lock it."""
    for _ in range(5):
        cli("token", "delete", "--token", label, "--so-pin", "wrong-so-pin", code=4)
    proc = cli("token", "delete", "--token", label, "--so-pin", SO_PIN, code=4)
    assert "LOCKED" in error_line(proc).upper()


def _on_terminal(cli, answer: bytes, *args: str) -> subprocess.CompletedProcess:
    """Run strongroom with stdin and stderr on a pseudo-terminal and type `answer`."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([STRONGROOM, *args], env=cli.env, stdin=slave, stderr=slave,
                                stdout=subprocess.PIPE, cwd=cli.home.parent)
        os.close(slave)
        os.write(master, answer)
        out, _ = proc.communicate(timeout=120)
        seen = b""
        try:
            while chunk := os.read(master, 4096):
                seen += chunk
        except OSError:          # EIO: the terminal's other side is closed
            pass
    finally:
        os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, seen)


def test_reset_wipes_one_locked_token_and_leaves_the_others(token, cli_home):
    cli = token
    cli("token", "init", "--label", "other", "--so-pin", SO_PIN, "--pin", USER_PIN)
    cli("key", "generate", "--type", "ec:p256", "--label", "keep", "--id", "01", "--token", "other",
        "--pin", USER_PIN)
    cli.user("key", "generate", "--type", "ec:p256", "--label", "gone", "--id", "02")
    (cli_home.parent / "msg").write_bytes(b"still signs")
    slots = {t["label"]: t["slot_id"] for t in cli.json("token", "list") if t.get("label")}
    _lock_so_pin(cli, "t")
    old_wrap = _so_wrap(cli_home, "t")

    # Refusals: no token named, unknown token, no terminal and no --yes.
    assert "--token" in error_line(cli("token", "reset", "--yes", code=2))
    assert "nosuch" in error_line(cli("token", "reset", "--token", "nosuch", "--yes", code=3))
    line = error_line(cli("token", "reset", "--token", "t", code=2))
    assert "--yes" in line
    # On a terminal, anything but 'yes' changes nothing.
    declined = _on_terminal(cli, b"no\n", "token", "reset", "--token", "t")
    assert declined.returncode == 1 and b"Reset token 't'" in declined.stderr
    assert "t" in {t.get("label") for t in cli.json("token", "list")}

    confirmed = _on_terminal(cli, b"yes\n", "token", "reset", "--token", "t")
    assert confirmed.returncode == 0, confirmed.stderr
    assert b"reset token 't'" in confirmed.stdout

    tokens = cli.json("token", "list")
    assert "t" not in {t.get("label") for t in tokens}
    free = [t for t in tokens if not t.get("initialized", True) or not t.get("label")]
    assert [t["slot_id"] for t in free] == [slots["t"]]           # the reset slot is the free one
    assert _in_any_file(cli_home, old_wrap) == []                  # scrubbed, not just unlinked
    # The other token, its key and its PINs are untouched and work.
    objects = cli.json("objects", "--token", "other", "--pin", USER_PIN)
    assert {o["label"] for o in objects} == {"keep"}
    cli("sign", "--key", "keep", "-m", "ECDSA-SHA256", "-i", "msg", "-o", "msg.sig",
        "--token", "other", "--pin", USER_PIN)
    cli("verify", "--key", "keep", "-m", "ECDSA-SHA256", "-i", "msg", "--signature", "msg.sig",
        "--token", "other")
    # The slot takes a new token again.
    out = cli.json("token", "init", "--label", "t", "--so-pin", SO_PIN, "--pin", USER_PIN)
    assert out["slot_id"] == slots["t"]


def test_reset_by_uri_with_yes_and_json(token):
    cli = token
    serial = cli.json("token", "info", "--token", "t")["serial"]
    proc = cli("token", "reset", "--token", "pkcs11:token=t;serial=0000000000000000", "--yes", code=3)
    assert "not in this home's store" in error_line(proc)
    out = cli.json("token", "reset", "--token", f"pkcs11:token=t;serial={serial}", "--yes")
    assert out["label"] == "t" and out["serial"] == serial and out["objects"] == 0
    assert "t" not in {t.get("label") for t in cli.json("token", "list")}
    proc = cli("token", "reset", "--token", "pkcs11:token=t;bogus%", "--yes", code=2)
    error_line(proc)
