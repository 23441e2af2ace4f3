"""PIN sources: literal, file, env, prompt; errors name the source and never the PIN."""
from __future__ import annotations

import io
import os

import pytest

from strongroom import pinsource
from strongroom.pinsource import PinSourceError, pin_from_uri, resolve_pin
from strongroom.uri import build, parse

PIN = "pin-4711-\u00e9"


def test_literal_value_wins(tmp_path, monkeypatch):
    path = tmp_path / "pin"
    path.write_text("from-file\n")
    monkeypatch.setenv("SR_TEST_PIN", "from-env")
    assert resolve_pin(PIN, f"file:{path}") == PIN
    assert resolve_pin(PIN, "env:SR_TEST_PIN") == PIN


@pytest.mark.parametrize("content,expected", [
    (b"1234", "1234"),
    (b"1234\n", "1234"),
    (b"1234\r\n", "1234"),
    (b"1234\n\n", "1234\n"),           # only one trailing newline is stripped
    (b" 12 34 ", " 12 34 "),           # spaces are part of the PIN
    (PIN.encode() + b"\n", PIN),
])
def test_file_content_with_one_trailing_newline_stripped(tmp_path, content, expected):
    path = tmp_path / "pin"
    path.write_bytes(content)
    assert resolve_pin(source=f"file:{path}") == expected
    assert resolve_pin(source=str(path)) == expected                # bare path
    assert resolve_pin(source=f"file://{path}") == expected         # file:///abs
    assert resolve_pin(source=f"file://localhost{path}") == expected


def test_relative_file(tmp_path, monkeypatch):
    (tmp_path / "pin.txt").write_text("rel-pin\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_pin(source="file:pin.txt") == "rel-pin"
    assert resolve_pin(source="pin.txt") == "rel-pin"


def test_env(monkeypatch):
    monkeypatch.setenv("SR_TEST_PIN", PIN)
    assert resolve_pin(source="env:SR_TEST_PIN") == PIN


def _error(**kwargs) -> str:
    with pytest.raises(PinSourceError) as info:
        resolve_pin(**kwargs)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_missing_and_empty_sources_are_errors(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    assert _error(source=f"file:{missing}") == f"PIN source 'file:{missing}': no such file"
    assert _error(source=str(missing)) == f"PIN source '{missing}': no such file"
    assert _error(source=f"file:{tmp_path}") == f"PIN source 'file:{tmp_path}': is a directory"
    for content in (b"", b"\n", b"\r\n"):
        (tmp_path / "empty").write_bytes(content)
        assert _error(source=f"file:{tmp_path / 'empty'}") == \
            f"PIN source 'file:{tmp_path / 'empty'}': the file holds an empty PIN"
    monkeypatch.delenv("SR_TEST_PIN", raising=False)
    assert _error(source="env:SR_TEST_PIN") == \
        "PIN source 'env:SR_TEST_PIN': environment variable SR_TEST_PIN is not set"
    monkeypatch.setenv("SR_TEST_PIN", "")
    assert _error(source="env:SR_TEST_PIN") == \
        "PIN source 'env:SR_TEST_PIN': environment variable SR_TEST_PIN is empty"
    assert _error(source="env:") == "PIN source 'env:' names no variable"
    assert _error(source="file:") == "PIN source 'file:' names no file"
    assert _error(source="") == "empty PIN source"
    assert _error(value="") == "the PIN given is empty"


def test_unsupported_sources(tmp_path):
    assert _error(source="https://example.com/pin") == (
        "PIN source 'https://example.com/pin': unsupported scheme 'https' "
        "(use file:PATH or env:NAME; file:PATH for a path containing ':')")
    assert _error(source="|/bin/echo 1234") == \
        "PIN source '|/bin/echo 1234': running commands is not supported"
    assert _error(source="file://otherhost/etc/pin") == \
        "PIN source 'file://otherhost/etc/pin': only local files are supported"
    # a path containing ':' is reachable through file:
    (tmp_path / "a:b").write_text("colon\n")
    assert resolve_pin(source=f"file:{tmp_path / 'a:b'}") == "colon"


def test_errors_never_contain_the_pin(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"secret\xff\n")
    message = _error(source=str(bad))
    assert message == f"PIN source '{bad}': the PIN is not UTF-8 text"
    assert "secret" not in message
    big = tmp_path / "big"
    big.write_bytes(b"s" * (pinsource.MAX_PIN_FILE + 1))
    assert _error(source=str(big)) == \
        f"PIN source '{big}': larger than {pinsource.MAX_PIN_FILE} bytes"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked"
    path.write_text("1234")
    path.chmod(0)
    assert _error(source=str(path)) == f"PIN source '{path}': cannot read (Permission denied)"


class _Stdin(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_prompt_only_on_a_tty(monkeypatch):
    import getpass
    prompts = []

    def fake_getpass(prompt: str = "Password: ") -> str:
        prompts.append(prompt)
        return "typed-pin"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.setattr("sys.stdin", _Stdin(tty=False))
    assert resolve_pin() is None
    assert prompts == []
    monkeypatch.setattr("sys.stdin", _Stdin(tty=True))
    assert resolve_pin(allow_prompt=False) is None
    assert resolve_pin() == "typed-pin"
    assert resolve_pin(prompt="SO PIN for dev: ") == "typed-pin"
    assert prompts == ["PIN: ", "SO PIN for dev: "]


def test_prompt_empty_or_eof(monkeypatch):
    import getpass
    monkeypatch.setattr("sys.stdin", _Stdin(tty=True))
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "")
    assert _error() == "no PIN entered at the prompt"

    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", eof)
    assert _error() == "no PIN entered at the prompt"


def test_pin_from_uri(tmp_path, monkeypatch):
    assert pin_from_uri(parse("pkcs11:token=t")) is None
    assert pin_from_uri(parse("pkcs11:token=t?pin-value=12%2034")) == "12 34"
    path = tmp_path / "pin"
    path.write_text("filepin\n")
    assert pin_from_uri(parse(f"pkcs11:token=t?pin-source=file:{path}")) == "filepin"
    assert pin_from_uri(build(pin_source=str(path))) == "filepin"
    monkeypatch.setenv("SR_TEST_PIN", "envpin")
    assert pin_from_uri(parse("pkcs11:?pin-source=env:SR_TEST_PIN")) == "envpin"
    with pytest.raises(PinSourceError, match="no such file"):
        pin_from_uri(parse(f"pkcs11:?pin-source=file:{tmp_path}/missing"))
    # a URI never prompts, even on a terminal
    monkeypatch.setattr("sys.stdin", _Stdin(tty=True))
    assert pin_from_uri(parse("pkcs11:token=t")) is None
