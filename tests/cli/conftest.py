"""Fixtures for the CLI tests: a temp token home (fast KDF), the installed ``strongroom``
bound to it, and pkcs11-tool for an independent view of the token."""
from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import CLI

from support import Tool, make_home


@pytest.fixture
def cli_home(tmp_path) -> Path:
    home = tmp_path / "home"
    make_home(home)
    return home


@pytest.fixture
def cli(cli_home) -> CLI:
    return CLI(cli_home)


@pytest.fixture
def p11tool(module, cli_home) -> Tool:
    return Tool(module, cli_home)


@pytest.fixture
def token(cli, p11tool) -> CLI:
    """Token 't' with SO and user PINs set, created by another client (pkcs11-tool)."""
    p11tool.init_token("t")
    return cli
