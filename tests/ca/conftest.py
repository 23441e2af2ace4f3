"""Fixtures for the CA tests: a temp token home with the fast KDF, the real CLI in a
subprocess, and pkcs11-tool for an independent view of the token."""
from __future__ import annotations

from pathlib import Path

import pytest
from ca_support import CLI

from support import Tool, make_home


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
