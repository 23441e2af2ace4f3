"""The ``strongroom`` command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="strongroom", description="strongroom PKCS#11 software token")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("module-path", help="print the absolute path of the PKCS#11 module")
    p.set_defaults(func=_cmd_module_path)
    p = sub.add_parser("demo", help="create a token, generate a device key with pkcs11-tool, "
                                    "sign on the token and verify with OpenSSL")
    p.add_argument("--home", type=Path, help="token home to use (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
