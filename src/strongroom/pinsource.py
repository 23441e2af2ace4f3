"""Where a PIN comes from: a literal, a file, an environment variable or a prompt.

Shared by the CLI (--pin / --pin-source) and the API (a URI's pin-value / pin-source) so
both read PINs the same way. A PIN never appears in an error message: errors name the
source only. Stdlib only and cheap to import (getpass is loaded only when prompting).
"""
from __future__ import annotations

import os
import sys

from ._records import TYPE_CHECKING  # not typing's: typing costs ~5 ms to import; the CLI starts often

if TYPE_CHECKING:
    from strongroom.uri import PKCS11URI

__all__ = ["PinSourceError", "pin_from_uri", "read_pin_source", "resolve_pin"]

# A PIN file larger than this is not a PIN file (and /dev/zero must not hang us).
MAX_PIN_FILE = 64 * 1024


class PinSourceError(ValueError):
    """A PIN could not be obtained from the source given; names the source, never the PIN."""


def resolve_pin(value: str | None = None, source: str | None = None, *,
                prompt: str | None = None, allow_prompt: bool = True) -> str | None:
    """The PIN to use, or None when none was given and none can be asked for.

    value   a literal PIN; wins over everything else.
    source  "file:/abs/path", "file:relative", a bare path (RFC 7512 pin-source) or
            "env:NAME".
    Without either, and with allow_prompt and a terminal on stdin, the PIN is read with
    getpass (no echo) after `prompt`.
    """
    if value is not None:
        if value == "":
            raise PinSourceError("the PIN given is empty")
        return value
    if source is not None:
        return read_pin_source(source)
    if allow_prompt and _stdin_is_tty():
        import getpass
        try:
            entered = getpass.getpass(prompt or "PIN: ")
        except EOFError:
            raise PinSourceError("no PIN entered at the prompt") from None
        if not entered:
            raise PinSourceError("no PIN entered at the prompt")
        return entered
    return None


def pin_from_uri(uri: PKCS11URI) -> str | None:
    """The PIN a URI carries: its pin-value, else what its pin-source holds, else None.
    Never prompts: a URI is read by programs as much as by people."""
    if uri.pin_value is not None:
        return resolve_pin(uri.pin_value, allow_prompt=False)
    if uri.pin_source is not None:
        return resolve_pin(source=uri.pin_source, allow_prompt=False)
    return None


def read_pin_source(source: str) -> str:
    """The PIN held by `source` (see resolve_pin)."""
    if not isinstance(source, str) or not source:
        raise PinSourceError("empty PIN source")
    if source.startswith("env:"):
        return _from_env(source[4:])
    if source.startswith("file:"):
        return _from_file(_file_path(source), source)
    if source.startswith("|"):
        raise PinSourceError(f"PIN source {source!r}: running commands is not supported")
    scheme = _scheme(source)
    if scheme is not None:
        raise PinSourceError(f"PIN source {source!r}: unsupported scheme {scheme!r} "
                             "(use file:PATH or env:NAME; file:PATH for a path containing ':')")
    return _from_file(source, source)


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):    # replaced or closed stdin
        return False


def _scheme(source: str) -> str | None:
    """The URI scheme `source` starts with (RFC 3986 §3.1 syntax), if any."""
    head, colon, _ = source.partition(":")
    if not colon or not head or not head[0].isascii() or not head[0].isalpha():
        return None
    if all(c.isascii() and (c.isalnum() or c in "+-.") for c in head):
        return head
    return None


def _file_path(source: str) -> str:
    """The local path of a file: source: file:/p, file:rel, file:///p, file://localhost/p."""
    rest = source[5:]
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host not in ("", "localhost"):
            raise PinSourceError(f"PIN source {source!r}: only local files are supported")
        rest = slash + path
    if not rest:
        raise PinSourceError(f"PIN source {source!r} names no file")
    return rest


def _from_env(name: str) -> str:
    if not name:
        raise PinSourceError("PIN source 'env:' names no variable")
    value = os.environ.get(name)
    if value is None:
        raise PinSourceError(f"PIN source 'env:{name}': environment variable {name} is not set")
    if value == "":
        raise PinSourceError(f"PIN source 'env:{name}': environment variable {name} is empty")
    return value


def _from_file(path: str, source: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PIN_FILE + 1)
    except FileNotFoundError:
        raise PinSourceError(f"PIN source {source!r}: no such file") from None
    except IsADirectoryError:
        raise PinSourceError(f"PIN source {source!r}: is a directory") from None
    except OSError as exc:
        raise PinSourceError(f"PIN source {source!r}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_PIN_FILE:
        raise PinSourceError(f"PIN source {source!r}: larger than {MAX_PIN_FILE} bytes")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise PinSourceError(f"PIN source {source!r}: the file holds an empty PIN")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PinSourceError(f"PIN source {source!r}: the PIN is not UTF-8 text") from None
