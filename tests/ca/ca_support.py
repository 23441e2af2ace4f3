"""Names the CA tests import (a module of its own: importing from ``conftest`` breaks as
soon as another test folder's conftest is loaded under the same module name)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import SO_PIN, USER_PIN, subprocess_env

STRONGROOM = str(Path(sys.executable).with_name("strongroom"))


class CLI:
    """``strongroom`` bound to one token home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = subprocess_env(home)

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: int = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run([STRONGROOM, *args], env=self.env, capture_output=True, text=True,
                              input=input, timeout=timeout, cwd=self.home.parent)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom {' '.join(args)} -> {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc


PINS = ("--pin", USER_PIN)
SO_PINS = ("--so-pin", SO_PIN)
