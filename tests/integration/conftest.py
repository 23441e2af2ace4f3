"""Fixtures for tests through the real shared library with real clients."""
from __future__ import annotations

import pytest

from support import Tool, make_home


@pytest.fixture(scope="session")
def module() -> str:
    from strongroom.abi import module_path

    path = module_path()
    assert path.is_file(), f"libstrongroom not built at {path}: run ./install.sh"
    return str(path)


@pytest.fixture
def tool(module, tmp_path) -> Tool:
    home = tmp_path / "home"
    make_home(home)
    return Tool(module, home)
