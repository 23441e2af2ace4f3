"""The config file reader: the fast flat-file path must mean exactly what TOML means."""
from __future__ import annotations

import tomllib

import pytest

from strongroom.config import load_config, parse_flat_toml
from strongroom.pkcs11.errors import CKRError

FLAT = [
    b"",
    b"# only a comment\n\n",
    b'log_file = "/var/log/strongroom.log"\nlog_level = "DEBUG"\n',
    b"kdf_log2_n = 10\r\npin_max_tries=3\n",
    b'\t log_level   =   "INFO"  \n',
    b"quota_objects = 0\n",
    b'a-b_c = "x y # not a comment"\n',
]
RICH = [  # valid TOML the fast path must hand to tomllib
    b"a = 1 # trailing comment\n",
    b'a = "tab\\there"\n',
    b"a = 'literal'\n",
    b"a = 1_000\n",
    b"a = true\n",
    b"[table]\na = 1\n",
    b'"quoted key" = 1\n',
    'a = "caf\u00e9"\n'.encode(),
    b"a = +1\n",
]
INVALID = [b"a = 1\rb = 2\n", b"a = 01\n", b"a = 1\na = 2\n", b"a = \n", b"= 1\n", b'a = "open\n', b"a\n"]


@pytest.mark.parametrize("raw", FLAT)
def test_flat_files_read_as_tomllib_reads_them(raw):
    assert parse_flat_toml(raw) == tomllib.loads(raw.decode())


@pytest.mark.parametrize("raw", RICH + INVALID)
def test_anything_else_is_left_to_tomllib(raw):
    assert parse_flat_toml(raw) is None


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_files_are_a_clear_error(raw, tmp_path, monkeypatch):
    path = tmp_path / "strongroom.toml"
    path.write_bytes(raw)
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path))
    monkeypatch.delenv("STRONGROOM_CONFIG", raising=False)
    with pytest.raises(CKRError, match="cannot read config file"):
        load_config()


def test_rich_file_still_configures(tmp_path, monkeypatch):
    (tmp_path / "strongroom.toml").write_bytes(b"kdf_log2_n = 1_2  # via tomllib\nlog_level = 'INFO'\n")
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path))
    monkeypatch.delenv("STRONGROOM_CONFIG", raising=False)
    config = load_config()
    assert (config.kdf_log2_n, config.log_level) == (12, "INFO")
