"""The ``strongroom`` command: argument parsing, dispatch, and the one place errors become
an exit code and a single line on stderr (never a traceback unless STRONGROOM_DEBUG=1)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import common as C


def module_path() -> Path:
    """Absolute path of the PKCS#11 module (``libstrongroom.so``) inside the package."""
    from ..abi import module_path as path

    return path()


def _cmd_module_path(args: argparse.Namespace) -> int:
    path = module_path()
    if not path.is_file():
        print(f"strongroom: {path} is missing; reinstall the package (pip install .)", file=sys.stderr)
        return 1
    print(path)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.home, args.keep)


# Subcommand modules, in the order their commands appear in --help.
_COMMAND_MODULES = ("token_cmds", "pin_cmds", "key_cmds", "cert_cmds", "crypto_cmds", "objects_cmd", "ca_cmds")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="strongroom", description="strongroom PKCS#11 software token")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    p = sub.add_parser("module-path", help="print the absolute path of the PKCS#11 module")
    p.set_defaults(func=_cmd_module_path)
    p = sub.add_parser("demo", help="create a token, generate a device key with pkcs11-tool, "
                                    "sign on the token and verify with OpenSSL")
    p.add_argument("--home", type=Path, help="token home to use (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.set_defaults(func=_cmd_demo)
    return parser


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an error the CLI reports in one line, or None for a bug."""
    from ..pinsource import PinSourceError
    from ..uri import URIError

    if isinstance(exc, C.CLIError):
        return exc.code
    try:
        from ..api import errors as E
    except ImportError:         # the API not installed/importable: only our own errors map
        E = None  # type: ignore[assignment]
    if E is not None and isinstance(exc, E.StrongroomError):
        if isinstance(exc, (E.TokenNotFound, E.ObjectNotFound)):
            return C.EXIT_NOT_FOUND
        if isinstance(exc, (E.PinIncorrect, E.PinLocked, E.NotLoggedIn)):
            return C.EXIT_AUTH
        if isinstance(exc, E.AmbiguousMatch):
            return C.EXIT_USAGE
        return C.EXIT_FAILURE
    if type(exc).__module__.startswith("pkcs11"):     # python-pkcs11 error the API let through
        return C.EXIT_FAILURE
    if isinstance(exc, PinSourceError):
        return C.EXIT_AUTH
    if isinstance(exc, URIError):
        return C.EXIT_USAGE
    if isinstance(exc, FileNotFoundError):
        return C.EXIT_NOT_FOUND
    if isinstance(exc, OSError):
        return C.EXIT_FAILURE
    if isinstance(exc, ValueError):
        return C.EXIT_USAGE
    return None


def _message(exc: BaseException) -> str:
    if type(exc).__module__.startswith("pkcs11"):
        from ..api.errors import ckr_name

        return f"the token refused: {ckr_name(exc) or type(exc).__name__}"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or directory"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())      # one line, always


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return C.EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("strongroom: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return C.EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - mapped below, re-raised when not ours
        code = exit_code_for(exc)
        if os.environ.get("STRONGROOM_DEBUG") == "1":
            import traceback
            traceback.print_exc()
        if code is None:        # a bug: still one line; STRONGROOM_DEBUG=1 shows where
            print(f"strongroom: internal error: {type(exc).__name__}: {_message(exc)} "
                  "(STRONGROOM_DEBUG=1 shows the traceback)", file=sys.stderr)
            return C.EXIT_FAILURE
        print(f"strongroom: error: {_message(exc)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
