"""Binary-safe input and output for commands that read files or stdin and write files or
stdout, with errors that name the file (exit 3 when it does not exist)."""
from __future__ import annotations

import os
import sys

from . import common as C


def read_input(path: str | None) -> bytes:
    """The bytes of `path`, or of stdin when `path` is None or "-"."""
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    return read_file(path)


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        C.fail(f"{path}: no such file", C.EXIT_NOT_FOUND)
    except IsADirectoryError:
        C.fail(f"{path}: is a directory", C.EXIT_USAGE)
    except OSError as exc:
        C.fail(f"{path}: cannot read ({exc.strerror})", C.EXIT_FAILURE)


def write_output(path: str | None, data: bytes) -> None:
    """Write `data` to `path` (created 0644 / replaced), or to stdout when None or "-"."""
    if path in (None, "-"):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        C.fail(f"{path}: cannot write ({exc.strerror})", C.EXIT_FAILURE)


def display_name(path: str | None) -> str:
    return "<stdin>" if path in (None, "-") else os.fspath(path)
