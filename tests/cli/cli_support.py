"""Helpers for the CLI tests: the installed ``strongroom`` run in a subprocess against a
temp STRONGROOM_HOME (fast KDF), and what a failed command must print; the fixtures are
in conftest.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import SO_PIN, USER_PIN, subprocess_env  # noqa: F401 - re-exported for the tests

STRONGROOM = str(Path(sys.executable).with_name("strongroom"))   # the venv running the tests


class CLI:
    """``strongroom`` bound to one token home; bytes in, bytes out."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = subprocess_env(home)

    def __call__(self, *args: str, check: bool = True, input: bytes | None = None,
                 code: int | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([STRONGROOM, *args], env=self.env, capture_output=True, input=input,
                              timeout=600, cwd=self.home.parent)
        expected = 0 if code is None and check else code
        if expected is not None and proc.returncode != expected:
            raise AssertionError(f"strongroom {' '.join(args)} -> {proc.returncode}, expected {expected}\n"
                                 f"stdout: {proc.stdout!r}\nstderr: {proc.stderr!r}")
        return proc

    def text(self, *args: str, **kw) -> str:
        return self(*args, **kw).stdout.decode()

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)

    def user(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """A command on token 't' logged in as user."""
        return self(*args, "--token", "t", "--pin", USER_PIN, **kw)

    def snapshot(self) -> object:
        """Everything on token 't' (attributes included): compared before/after a failure."""
        return json.loads(self("objects", "--token", "t", "--pin", USER_PIN, "--json").stdout)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one stderr line of a failed command (and that there is exactly one, no traceback)."""
    text = proc.stderr.decode()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("strongroom: note:")]
    assert len(lines) == 1 and lines[0].startswith("strongroom: error: "), text
    assert "Traceback" not in text
    return lines[0]
