"""Fixtures for the CLI tests: a temp home, the CLI bound to it, a token made by pkcs11-tool."""
from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import CLI
from support import Tool, make_home


@pytest.fixture(scope="session")
def module() -> str:
    from strongroom.abi import module_path

    path = module_path()
    assert path.is_file(), f"libstrongroom not built at {path}: run ./install.sh"
    return str(path)


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

