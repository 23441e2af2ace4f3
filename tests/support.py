"""Helpers shared by the test suites (imported as ``support``: tests/ is on sys.path)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

TEST_CONFIG = """
kdf_log2_n = 10
pin_max_tries = 5
log_level = "DEBUG"
"""
SO_PIN = "so-pin-1234"
USER_PIN = "user-pin-1234"


def make_home(path: Path, extra: str = "") -> dict[str, str]:
    """A fresh token home with a cheap (still scrypt) KDF; returns the env that selects it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "strongroom.toml").write_text(
        TEST_CONFIG + f'log_file = "{path / "strongroom.log"}"\n' + extra)
    return {"STRONGROOM_HOME": str(path), "STRONGROOM_CONFIG": str(path / "strongroom.toml")}


def subprocess_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STRONGROOM_HOME"] = str(home)
    env["STRONGROOM_CONFIG"] = str(home / "strongroom.toml")
    return env


class Tool:
    """pkcs11-tool bound to the module and one token home."""

    def __init__(self, module: str, home: Path) -> None:
        self.module, self.home = module, home
        self.env = subprocess_env(home)

    def run(self, *args: str, check: bool = True, token: str | None = "t") -> subprocess.CompletedProcess:
        argv = ["pkcs11-tool", "--module", self.module]
        if token:
            argv += ["--token-label", token]
        proc = subprocess.run(argv + list(args), env=self.env, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"pkcs11-tool {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def init_token(self, label: str = "t") -> None:
        """C_InitToken on the free slot, then C_InitPIN as SO."""
        self.run("--init-token", "--slot-index", str(self.free_slot_index()), "--label", label,
                 "--so-pin", SO_PIN, token=None)
        self.run("--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin", "--pin", USER_PIN,
                 token=label)

    def free_slot_index(self) -> int:
        out = self.run("--list-slots", token=None).stdout
        blocks = out.split("\nSlot ")[1:] if out.startswith("Available") else out.split("Slot ")[1:]
        for index, block in enumerate(blocks):
            if "uninitialized" in block:
                return index
        raise AssertionError(f"no free slot in:\n{out}")


class KeyStub:
    """What the core hands a mechanism (registry.KeyMaterial): attributes plus the
    parsed-key cache, one loader result per key, as token/objects.py keeps it."""

    def __init__(self, attrs):
        self.attrs = attrs
        self._cache = {}

    def parsed(self, loader):
        if loader not in self._cache:
            self._cache[loader] = loader(self.attrs)
        return self._cache[loader]
