"""What every ``strongroom`` subcommand shares: exit codes, token/PIN arguments, output.

One place decides how a command names its token, where PINs come from and how results
are printed (text or ``--json``), so that all commands — the core ones and the CA's —
behave alike. Errors travel as CLIError (or the API's own errors) up to main.py, which
prints one line and exits with the mapped code; nothing here prints a traceback or a PIN.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Callable, NoReturn

if TYPE_CHECKING:
    from ..api import Token

EXIT_OK = 0
EXIT_FAILURE = 1      # the token refused or an operation failed (message says the CKR name)
EXIT_USAGE = 2        # bad arguments / malformed input file (argparse also exits 2)
EXIT_NOT_FOUND = 3    # no such token / object / file
EXIT_AUTH = 4         # PIN missing, incorrect, or locked


class CLIError(Exception):
    """A failure the user must read: a one-line message and the exit code to leave with."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int) -> NoReturn:
    """Stop the command with `message` (one line, no secret) and exit code `code`."""
    raise CLIError(message, code)


def add_token_arguments(parser: argparse.ArgumentParser, *, so: bool = False) -> None:
    """--token, --module, --pin, --pin-source (and the SO variants when `so`)."""
    g = parser.add_argument_group("token")
    g.add_argument("--token", metavar="TOKEN",
                   help="pkcs11: URI or token label (default: the only initialised token)")
    g.add_argument("--module", metavar="PATH",
                   help="PKCS#11 module to load (default: strongroom's own libstrongroom.so)")
    g.add_argument("--pin", metavar="PIN", help="user PIN (prefer --pin-source: argv is visible to others)")
    g.add_argument("--pin-source", metavar="SRC", help="file:/path or env:NAME holding the user PIN")
    if so:
        g.add_argument("--so-pin", metavar="PIN", help="Security Officer PIN")
        g.add_argument("--so-pin-source", metavar="SRC", help="file:/path or env:NAME holding the SO PIN")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def user_pin(args: argparse.Namespace, *, required: bool = True, prompt: str = "User PIN: ") -> str | None:
    """The user PIN from --pin / --pin-source / a no-echo prompt; EXIT_AUTH if required and none."""
    from ..pinsource import resolve_pin

    pin = resolve_pin(getattr(args, "pin", None), getattr(args, "pin_source", None), prompt=prompt)
    if pin is None and required:
        fail("no user PIN: give --pin-source file:PATH|env:NAME or --pin (or run on a terminal)", EXIT_AUTH)
    return pin


def so_pin(args: argparse.Namespace, *, required: bool = True, prompt: str = "SO PIN: ") -> str | None:
    """The SO PIN from --so-pin / --so-pin-source / a no-echo prompt; EXIT_AUTH if required and none."""
    from ..pinsource import resolve_pin

    pin = resolve_pin(getattr(args, "so_pin", None), getattr(args, "so_pin_source", None), prompt=prompt)
    if pin is None and required:
        fail("no SO PIN: give --so-pin-source file:PATH|env:NAME or --so-pin (or run on a terminal)", EXIT_AUTH)
    return pin


def open_token(args: argparse.Namespace, *, so: bool = False, login: bool = True) -> "Token":
    """Open the token named by --token/--module; log in as user (or as SO when `so`).

    With login=False no PIN is asked for (public objects and token info only).
    """
    import strongroom

    pin = sopin = None
    if login:
        if so:
            sopin = so_pin(args)
        else:
            pin = user_pin(args)
    return strongroom.open(getattr(args, "token", None), pin=pin, so_pin=sopin,
                           module=getattr(args, "module", None))


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def to_json(data: Any) -> str:
    """JSON text of `data`; bytes become lowercase hex, anything else unknown its str()."""
    return json.dumps(data, default=_json_default, indent=2, sort_keys=False)


def emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    """Print `data`: as JSON with --json, else as render(data) (nothing if it renders empty)."""
    if getattr(args, "json", False):
        text = to_json(data)
    else:
        text = render(data)
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
