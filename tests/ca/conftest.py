"""Fixtures for the CA tests: a temp token home with the fast KDF, the real CLI in a
subprocess, and pkcs11-tool for an independent view of the token."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import SO_PIN, USER_PIN, Tool, make_home, subprocess_env

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


@pytest.fixture(scope="session")
def module() -> str:
    from strongroom.abi import module_path

    path = module_path()
    assert path.is_file(), f"libstrongroom not built at {path}: run ./install.sh"
    return str(path)


@pytest.fixture
def ca_home(tmp_path) -> Path:
    home = tmp_path / "home"
    make_home(home)
    return home


@pytest.fixture
def cli(ca_home) -> CLI:
    return CLI(ca_home)


@pytest.fixture
def p11tool(module, ca_home) -> Tool:
    return Tool(module, ca_home)


@pytest.fixture
def ca_token(p11tool) -> str:
    """A token "ca" with the standard test PINs, made by pkcs11-tool."""
    p11tool.init_token("ca")
    return "ca"


PINS = ("--pin", USER_PIN)
SO_PINS = ("--so-pin", SO_PIN)
