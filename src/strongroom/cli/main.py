"""The ``strongroom`` command: argument parsing, dispatch, and the one place errors become
an exit code and a single line on stderr (never a traceback unless STRONGROOM_DEBUG=1)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..modules import client_path, module_path
from . import common as C


def _cmd_module_path(args: argparse.Namespace) -> int:
    path = client_path() if args.client else module_path()
    if not path.is_file():
        print(f"strongroom: {path} is missing; reinstall the package (pip install .)", file=sys.stderr)
        return 1
    print(path)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.home, args.keep, args.service)


# Subcommand modules, in the order their commands appear in --help.
_COMMAND_MODULES = ("token_cmds", "pin_cmds", "key_cmds", "cert_cmds", "crypto_cmds", "objects_cmd", "ca_cmds",
                    "serve_cmd")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="strongroom", description="strongroom PKCS#11 software token",
        epilog="examples:\n  strongroom token init --label work\n  strongroom token info --token work\n"
               "  strongroom key generate --token work --type ec:p256 --label 'device key'\n\n"
               "'strongroom COMMAND --help' shows each command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"strongroom {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    p = sub.add_parser("module-path", help="print the absolute path of the PKCS#11 module",
                       epilog="examples:\n  strongroom module-path\n"
                              "  pkcs11-tool --module \"$(strongroom module-path)\" --list-slots\n"
                              "  pkcs11-tool --module \"$(strongroom module-path --client)\" --list-slots",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--client", action="store_true",
                   help="the client module (libstrongroom-client.so) that reaches the token service "
                        "(strongroom serve) instead of the in-process module")
    p.set_defaults(func=_cmd_module_path)
    p = sub.add_parser("demo", help="create a token, generate a device key with pkcs11-tool, "
                                    "sign on the token and verify with OpenSSL",
                       epilog="examples:\n  strongroom demo\n  strongroom demo --service\n"
                              "  strongroom demo --home /tmp/sr-demo --keep",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--home", type=Path, help="token home to use (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--service", action="store_true",
                   help="start the token service and run every step through the client module "
                        "(libstrongroom-client.so) instead of the in-process module")
    p.set_defaults(func=_cmd_demo)
    return parser


# Commands whose token must already exist in the store (all but `token init`, which
# creates the store, and the CA's and the helpers', which check what they need).
_NEEDS_STORE = ("token_cmds", "pin_cmds", "key_cmds", "cert_cmds", "crypto_cmds", "objects_cmd")
_NO_MODULE = ("_cmd_module_path", "_cmd_demo")


def _uses_own_module(args: argparse.Namespace) -> bool:
    """True when the command talks to strongroom's own module (no --module elsewhere, no
    URI naming another module-path)."""
    from .. import uri as urimod
    from . import store_view

    if not store_view.is_own_module(getattr(args, "module", None)):
        return False
    for name in ("token", "key"):
        value = getattr(args, name, None)
        if isinstance(value, str) and urimod.is_uri(value):
            try:
                path = urimod.parse(value).module_path
            except urimod.URIError:
                continue                      # the command reports the bad URI itself
            if path and not store_view.is_own_module(path):
                return False
    return True


def _home_name(home: str) -> str:
    return f"{home} (STRONGROOM_HOME)" if os.environ.get("STRONGROOM_HOME") else f"{home} (the default home)"


def _check_own_store(args: argparse.Namespace) -> None:
    """Before strongroom's module is loaded, say in one line what is wrong with the config
    or the home: the module itself can only answer CKR_GENERAL_ERROR, and it creates a
    missing home (an empty store) that a read-only command should not leave behind."""
    func = getattr(args, "func", None)
    if getattr(func, "__name__", "") in _NO_MODULE or not _uses_own_module(args):
        return
    if getattr(args, "op", None) == "verify" and getattr(args, "cert", None) is not None:
        return                          # verify --cert FILE runs in software, no token
    from ..config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        C.fail(exc.line, C.EXIT_USAGE)
    home = config.home
    if os.path.isdir(home):
        if not os.path.exists(config.database) and not os.access(home, os.W_OK | os.X_OK):
            C.fail(f"cannot create the token store in {_home_name(home)}: permission denied", C.EXIT_FAILURE)
        return
    if os.path.lexists(home):
        C.fail(f"{_home_name(home)} is not a directory", C.EXIT_USAGE)
    module = getattr(func, "__module__", "").rpartition(".")[2]
    if module not in _NEEDS_STORE:
        return                          # the CA's commands: they say what they need themselves
    if getattr(func, "__name__", "") != "_cmd_init":
        C.fail(f"no token store: {_home_name(home)} does not exist; "
               "'strongroom token init --label NAME' creates it with a first token", C.EXIT_NOT_FOUND)
    try:
        os.makedirs(home, mode=0o700, exist_ok=True)
    except OSError as exc:
        C.fail(f"cannot create {_home_name(home)}: {exc.strerror or exc}", C.EXIT_FAILURE)


def _ca_exit_codes() -> dict[type, int]:
    """The one table from the CA's error classes (ca/errors.py) to exit codes (README
    "Command line"); a test checks that it names every class."""
    from ..ca import errors as CA

    return {
        CA.CAInvalidInput: C.EXIT_USAGE,
        CA.CAAlreadyExists: C.EXIT_USAGE,
        CA.CANotFound: C.EXIT_NOT_FOUND,
        CA.CARefused: C.EXIT_FAILURE,
        CA.CAStateBroken: C.EXIT_FAILURE,
        CA.CAPinNeeded: C.EXIT_AUTH,
        CA.CAError: C.EXIT_FAILURE,
    }


def ca_exit_code(exc: BaseException) -> int:
    """The exit code of a CA error: its class's entry in the table, or its nearest base's."""
    table = _ca_exit_codes()
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return C.EXIT_FAILURE


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an error the CLI reports in one line, or None for a bug."""
    from ..ca.errors import CAError
    from ..pinsource import PinSourceError
    from ..uri import URIError

    if isinstance(exc, C.CLIError):
        return exc.code
    if isinstance(exc, CAError):        # before ValueError: a CAError is one
        return ca_exit_code(exc)
    from ..api import errors as E

    if isinstance(exc, E.StrongroomError):
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
        from ..api.errors import ckr_name, rv_name
        from .remedies import ckr_of

        code = ckr_of(exc)
        return f"the token refused: {ckr_name(exc) or (rv_name(code) if code else type(exc).__name__)}"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or directory"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())      # one line, always


def _with_remedy(message: str, exc: BaseException, args: argparse.Namespace) -> str:
    """The message, and after it what to do when the CKR has a known remedy (remedies.py)."""
    from .remedies import explain

    remedy = explain(exc, args)
    return f"{message}: {' '.join(remedy.split())}" if remedy else message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return C.EXIT_USAGE
    try:
        _check_own_store(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("strongroom: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return C.EXIT_FAILURE
    except Exception as exc:        # mapped below; a bug is one line too (STRONGROOM_DEBUG: traceback)
        code = exit_code_for(exc)
        if os.environ.get("STRONGROOM_DEBUG") == "1":
            import traceback
            traceback.print_exc()
        if code is None:        # a bug: still one line; STRONGROOM_DEBUG=1 shows where
            print(f"strongroom: internal error: {type(exc).__name__}: {_message(exc)} "
                  "(STRONGROOM_DEBUG=1 shows the traceback)", file=sys.stderr)
            return C.EXIT_FAILURE
        print(f"strongroom: error: {_with_remedy(_message(exc), exc, args)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
