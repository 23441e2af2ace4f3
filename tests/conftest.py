"""Shared fixtures: every test gets its own STRONGROOM_HOME and a cheap (still scrypt) KDF."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_CONFIG = """
kdf_log2_n = 10
pin_max_tries = 5
log_level = "DEBUG"
"""


def make_home(path: Path, extra: str = "") -> dict[str, str]:
    """A fresh token home; returns the environment variables that select it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "strongroom.toml").write_text(TEST_CONFIG + f'log_file = "{path / "strongroom.log"}"\n' + extra)
    return {"STRONGROOM_HOME": str(path), "STRONGROOM_CONFIG": str(path / "strongroom.toml")}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    env = make_home(tmp_path / "home")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "home"


def subprocess_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STRONGROOM_HOME"] = str(home)
    env["STRONGROOM_CONFIG"] = str(home / "strongroom.toml")
    return env
