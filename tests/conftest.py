"""Shared fixtures: every test gets its own STRONGROOM_HOME and a cheap (still scrypt) KDF."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import make_home


@pytest.fixture(scope="session")
def module() -> str:
    """Path of the built libstrongroom.so (tests/abi overrides this with its own)."""
    from strongroom.modules import module_path

    path = module_path()
    assert path.is_file(), f"libstrongroom not built at {path}: run ./install.sh"
    return str(path)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    env = make_home(tmp_path / "home")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "home"
