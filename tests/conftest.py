"""Shared fixtures: every test gets its own STRONGROOM_HOME and a cheap (still scrypt) KDF."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import make_home


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    env = make_home(tmp_path / "home")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "home"
