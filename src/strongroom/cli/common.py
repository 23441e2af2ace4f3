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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

if TYPE_CHECKING:
    from ..api import Token
    from ..uri import PKCS11URI

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
                   help="token label or pkcs11: URI (token/serial/slot-id select; pin-value/pin-source "
                        "give the PIN; default: the only initialised token)")
    g.add_argument("--module", metavar="PATH",
                   help="PKCS#11 module to load (default: strongroom's own libstrongroom.so)")
    g.add_argument("--pin", metavar="PIN", help="user PIN (prefer --pin-source: argv is visible to others; "
                                                "default: a URI's pin-value/pin-source, else a prompt)")
    g.add_argument("--pin-source", metavar="SRC", help="file:/path or env:NAME holding the user PIN")
    if so:
        g.add_argument("--so-pin", metavar="PIN", help="Security Officer PIN")
        g.add_argument("--so-pin-source", metavar="SRC", help="file:/path or env:NAME holding the SO PIN")


def examples(*lines: str) -> dict[str, Any]:
    """add_parser() keywords for an "examples:" epilog kept as written (one command a line)."""
    text = "examples:\n" + "\n".join(f"  {line}" for line in lines)
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def export_command(parser: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]) -> None:
    """Finish a sub-command that writes what a selector names (a certificate, a public
    key) to a file or stdout: --der, -o/--output, the token options and the function."""
    parser.add_argument("--der", action="store_true", help="DER instead of PEM")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
    add_token_arguments(parser)
    parser.set_defaults(func=func)


def command_group(subparsers: Any, name: str, text: str, *example_lines: str) -> Any:
    """A command with sub-commands (``strongroom NAME SUB ...``): its --help ends with the
    examples; returns the set to add its sub-commands to."""
    group = subparsers.add_parser(name, help=text, **examples(*example_lines))
    return group.add_subparsers(dest=f"{name}_command", metavar=f"{name.upper()}_COMMAND", required=True)


def subcommand(sub: Any, name: str, text: str, examples: str, *,
               description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command whose --help says `text` (or `description`) and ends with its
    examples, kept as written (one command a line)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text if description is None else description,
        epilog="examples:\n" + examples, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def token_command(parser: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int], *,
                  so: bool = False) -> None:
    """Finish a sub-command that works on one token: the token and PIN options, --json,
    and the function that runs it."""
    add_token_arguments(parser, so=so)
    add_json_argument(parser)
    parser.set_defaults(func=func)


@overload
def user_pin(args: argparse.Namespace, *, required: Literal[True] = ..., prompt: str | None = None) -> str: ...
@overload
def user_pin(args: argparse.Namespace, *, required: bool, prompt: str | None = None) -> str | None: ...


def user_pin(args: argparse.Namespace, *, required: bool = True, prompt: str | None = None) -> str | None:
    """The user PIN from --pin / --pin-source, else what a pkcs11: URI on the command line
    carries (--token's, then the object's pin-value / pin-source, RFC 7512 §2.4), else a
    no-echo prompt; EXIT_AUTH if required and none."""
    from ..pinsource import pin_from_uri, resolve_pin

    value, source = getattr(args, "pin", None), getattr(args, "pin_source", None)
    if value is None and source is None:
        for uri in command_uris(args):
            pin = pin_from_uri(uri)
            if pin is not None:
                return pin
    if prompt is None and value is None and source is None:
        from .store_view import pin_prompt  # "User PIN for token 't': " (issue 11 item 12)
        prompt = pin_prompt(args, "User PIN")
    pin = resolve_pin(value, source, prompt=prompt)
    if pin is None and required:
        fail("no user PIN: give --pin-source file:PATH|env:NAME or --pin (or run on a terminal)", EXIT_AUTH)
    return pin


def pin_given(args: argparse.Namespace) -> bool:
    """True when the command line names a user PIN (option or URI), so commands that work
    without a login log in to show private objects too."""
    if getattr(args, "pin", None) is not None or getattr(args, "pin_source", None) is not None:
        return True
    return any(u.pin_value is not None or u.pin_source is not None for u in command_uris(args))


# Path attributes that select a token rather than an object (RFC 7512 §2.3).
_TOKEN_ATTRIBUTES = ("token", "manufacturer", "serial", "model", "slot-description", "slot-manufacturer",
                     "slot-id", "library-manufacturer", "library-description", "library-version")


def _parsed(text: object) -> PKCS11URI | None:
    from ..uri import is_uri, parse

    return parse(text) if isinstance(text, str) and is_uri(text) else None


def object_uri(args: argparse.Namespace) -> PKCS11URI | None:
    """The pkcs11: URI the command's object selector (SELECTOR, --key) is, if it is one."""
    dest = getattr(args, "selector_dest", None)
    return _parsed(getattr(args, dest, None)) if dest else None


def command_uris(args: argparse.Namespace) -> list[PKCS11URI]:
    """The pkcs11: URIs of the command line: --token's first, then the object selector's."""
    return [u for u in (_parsed(getattr(args, "token", None)), object_uri(args)) if u is not None]


def token_target(args: argparse.Namespace) -> str | None:
    """What names the token: --token as given; else, when the object selector is a URI
    with token attributes (token, serial, slot-id, ...), a URI of just those, so that
    `--key 'pkcs11:token=T;object=K'` picks token T among several."""
    given: str | None = getattr(args, "token", None)
    if given is not None:
        return given
    uri = object_uri(args)
    if uri is None:
        return None
    from ..uri import PKCS11URI

    path = {k: v for k, v in uri.path.items() if k in _TOKEN_ATTRIBUTES}
    query = {k: v for k, v in uri.query.items() if k in ("module-path", "module-name")}
    return PKCS11URI(path, query).format() if path else None


def module_of(args: argparse.Namespace) -> str | None:
    """--module, else the module-path of a URI on the command line (None: strongroom's)."""
    given: str | None = getattr(args, "module", None)
    if given is not None:
        return given
    return next((u.module_path for u in command_uris(args) if u.module_path), None)


@overload
def so_pin(args: argparse.Namespace, *, required: Literal[True] = ..., prompt: str | None = None) -> str: ...
@overload
def so_pin(args: argparse.Namespace, *, required: bool, prompt: str | None = None) -> str | None: ...


def so_pin(args: argparse.Namespace, *, required: bool = True, prompt: str | None = None) -> str | None:
    """The SO PIN from --so-pin / --so-pin-source / a no-echo prompt; EXIT_AUTH if required and none."""
    from ..pinsource import resolve_pin

    if prompt is None and getattr(args, "so_pin", None) is None and getattr(args, "so_pin_source", None) is None:
        from .store_view import pin_prompt  # "SO PIN for token 't': " (issue 11 item 12)
        prompt = pin_prompt(args, "SO PIN")
    pin = resolve_pin(getattr(args, "so_pin", None), getattr(args, "so_pin_source", None), prompt=prompt)
    if pin is None and required:
        fail("no SO PIN: give --so-pin-source file:PATH|env:NAME or --so-pin (or run on a terminal)", EXIT_AUTH)
    return pin


def open_token(args: argparse.Namespace, *, so: bool = False, login: bool = True) -> Token:
    """Open the token named by --token/--module (or the object URI's token attributes);
    log in as user (or as SO when `so`).

    With login=False no PIN is asked for (public objects and token info only).
    """
    from ..api import open as api_open

    pin = sopin = None
    if login:
        if so:
            sopin = so_pin(args)
        else:
            pin = user_pin(args)
    return api_open(token_target(args), pin=pin, so_pin=sopin, module=module_of(args))


TYPE_WORDS = {"private": "private key", "public": "public key", "cert": "certificate",
              "secret-key": "secret key", "data": "data object"}


def warn(message: str) -> None:
    """One line on stderr that does not stop the command."""
    print(f"strongroom: warning: {message}", file=sys.stderr)


def warn_duplicate_label(token: Token, label: str | None, types: tuple[str, ...],
                         new_id: bytes | None = None) -> None:
    """Warn (the command still succeeds) when objects of `types` already carry `label`
    under another CKA_ID: after this, the label alone selects more than one object and
    commands refuse it as ambiguous, so the warning names the existing object and the
    way to select unambiguously. Same label and same id is refused by the commands."""
    if not label:
        return
    existing = [r for r in token.objects(label=label) if r.type in types
                and (new_id is None or r.id != new_id)]
    if not existing:
        return
    first = existing[0]
    more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
    warn(f"the token already holds {TYPE_WORDS.get(first.type, first.type)} {label!r} "
         f"(id {first.id.hex() or '-'}){more}: "
         "the label alone is now ambiguous; select by --id HEX or a pkcs11: URI with id=")


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
    text = to_json(data) if getattr(args, "json", False) else render(data)
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
