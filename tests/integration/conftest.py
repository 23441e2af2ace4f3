"""Fixtures for tests through the real shared library with real clients."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest

from strongroom.modules import client_path
from support import USER_PIN, Tool, make_home, subprocess_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from service_support import Service


@pytest.fixture
def tool(module, tmp_path) -> Tool:
    home = tmp_path / "home"
    make_home(home)
    return Tool(module, home)


@pytest.fixture(scope="session")
def p11lib(module):
    """python-pkcs11 loading the module into this (Python host) process."""
    import pkcs11

    return pkcs11.lib(module)


@pytest.fixture(params=["in-process", "service"])
def token(request: pytest.FixtureRequest, tool: Tool, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[pkcs11.Token]:
    """The token "t" made by pkcs11-tool, then opened by python-pkcs11 in this process:
    through the in-process module (conftest's p11lib, this test's STRONGROOM_HOME), or
    through the client module to a service that owns that home."""
    if request.param == "in-process":
        lib = request.getfixturevalue("p11lib")
        for key, value in subprocess_env(tool.home).items():
            if key.startswith("STRONGROOM"):
                monkeypatch.setenv(key, value)
        tool.init_token("t")
        lib.reinitialize()
        yield lib.get_token(token_label="t")
        lib.finalize()
        return
    if not client_path().is_file():
        pytest.skip("libstrongroom-client.so not built")
    svc = Service(tool.home, tmp_path / "service.sock")
    try:
        tool.init_token("t")              # in-process, next to the running service
        monkeypatch.setenv("STRONGROOM_SERVICE", f"unix:{svc.socket}")
        lib = pkcs11.lib(str(client_path()))
        lib.reinitialize()                # C_Initialize reads STRONGROOM_SERVICE
        yield lib.get_token(token_label="t")
        lib.finalize()
    finally:
        svc.stop()


@pytest.fixture
def session(token):
    """A logged-in R/W session on ``token``."""
    with token.open(user_pin=USER_PIN, rw=True) as s:
        yield s
