"""Fixtures for tests through the real shared library with real clients."""
from __future__ import annotations

import pytest

from support import USER_PIN, Tool, make_home, subprocess_env


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


@pytest.fixture
def token(p11lib, tool: Tool, monkeypatch):
    """A token created by another process (pkcs11-tool), then seen by this one after
    re-initialising python-pkcs11 with the test's STRONGROOM_HOME."""
    for key, value in subprocess_env(tool.home).items():
        if key.startswith("STRONGROOM"):
            monkeypatch.setenv(key, value)
    tool.init_token("t")
    p11lib.reinitialize()
    yield p11lib.get_token(token_label="t")
    p11lib.finalize()


@pytest.fixture
def session(token):
    """A logged-in R/W session on ``token``."""
    with token.open(user_pin=USER_PIN, rw=True) as s:
        yield s
