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


def _config_error(tmp_path, monkeypatch, text: str):
    from strongroom.config import ConfigError

    (tmp_path / "strongroom.toml").write_text(text)
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path))
    monkeypatch.delenv("STRONGROOM_CONFIG", raising=False)
    with pytest.raises(ConfigError) as e:
        load_config()
    assert e.value.rv == 0x5          # CKR_GENERAL_ERROR: all the module can answer
    return e.value


@pytest.mark.parametrize("text, problem", [
    ("quota_bites = 3000\n", "unknown key 'quota_bites' (did you mean 'quota_bytes'?)"),
    ("zzz = 1\n", ("unknown key 'zzz' (known keys: kdf_log2_n, log_file, log_level, max_data_len, "
                   "max_sessions, pin_max_len, pin_max_tries, pin_min_len, quota_bytes, quota_objects, "
                   "rsa_min_generate_bits)")),
    ('quota_bytes = "3k"\n', 'quota_bytes = "3k": must be a non-negative integer (no quotes, no unit)'),
    ("quota_bytes = 3.5\n", "quota_bytes = 3.5: must be a non-negative integer (no quotes, no unit)"),
    ("pin_max_tries = true\n", "pin_max_tries = true: must be a non-negative integer (no quotes, no unit)"),
    ("max_data_len = 0\n", "max_data_len must be at least 1, not 0"),
    ('log_level = "loud"\n', 'log_level = "loud": must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL'),
    ("log_file = 3\n", "log_file = 3: must be a file path in quotes"),
    ('home = "/x"\n', "home: set STRONGROOM_HOME instead of 'home'"),
])
def test_config_mistakes_are_one_line_naming_file_and_key(tmp_path, monkeypatch, text, problem):
    error = _config_error(tmp_path, monkeypatch, text)
    assert error.line == f"{tmp_path / 'strongroom.toml'}: {problem}"


def test_config_error_keeps_the_log_file_it_could_read(tmp_path, monkeypatch):
    log = str(tmp_path / "sr.log")
    error = _config_error(tmp_path, monkeypatch, f'log_file = "{log}"\nquota_bites = 1\n')
    assert error.log_file == log
