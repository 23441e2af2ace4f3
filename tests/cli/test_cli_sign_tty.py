"""Issue 11 item 14 (sign part): binary output is not written to a terminal without -o."""
from __future__ import annotations

import os
import pty
import subprocess

from cli_support import STRONGROOM, USER_PIN


def _on_pty(cli, *args: str) -> tuple[int, bytes, bytes]:
    """Run strongroom with stdout on a pseudo-terminal; (exit code, stderr, what the terminal got)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([STRONGROOM, *args], env=cli.env, stdin=subprocess.DEVNULL, stdout=slave,
                              stderr=subprocess.PIPE, timeout=120)
        os.close(slave)
        slave = -1
        seen = b""
        try:
            while chunk := os.read(master, 4096):
                seen += chunk
        except OSError:                      # EIO once the terminal is drained and closed
            pass
        return proc.returncode, proc.stderr, seen
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_sign_refuses_a_terminal_and_names_o(token, tmp_path):
    token.user("key", "generate", "--type", "ec:p256", "--label", "s")
    (tmp_path / "in").write_bytes(b"data")
    code, err, seen = _on_pty(token, "sign", "--key", "s", "-i", str(tmp_path / "in"), "--token", "t",
                              "--pin", USER_PIN)
    assert code == 2 and seen == b""
    assert err == (b"strongroom: error: refusing to write a binary signature to a terminal: "
                   b"give -o FILE or redirect stdout\n")
    code, err, seen = _on_pty(token, "sign", "--key", "s", "-i", str(tmp_path / "in"), "-o",
                              str(tmp_path / "sig"), "--token", "t", "--pin", USER_PIN)
    assert code == 0 and err == b"" and (tmp_path / "sig").read_bytes()[:1] == b"\x30"
