"""What the CA's commands (ca_cmds.py, provision_cmd.py) share: a sub-command parser
with examples, the certificate-profile and CA-PIN argument groups, the profile the options
describe, the CA's token and its PIN, and CA errors leaving with their exit codes."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import common as C

if TYPE_CHECKING:
    from ..api import Token
    from ..ca.authority import Authority

# the EKU of a leaf certificate when --eku is not given, for `ca issue` and `provision` alike
# (a device identity is used as a TLS client and server); a sub-CA (--ca) gets none by default
LEAF_EKU = "clientAuth,serverAuth"


def parser(sub: Any, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples."""
    return C.subcommand(sub, name, help, examples, description=help[:1].upper() + help[1:] + ".")


# -- argument groups -------------------------------------------------------------------
def profile_arguments(parser: argparse.ArgumentParser, *, default_days: int, templates: bool = False,
                      csr: bool = True) -> None:
    g = parser.add_argument_group("certificate profile")
    g.add_argument("--validity-days", type=int, default=default_days, metavar="DAYS",
                   help=f"validity in days (default {default_days}; never beyond the CA's own)")
    g.add_argument("--key-usage", metavar="LIST",
                   help="comma list, e.g. digitalSignature,keyEncipherment (default: keyCertSign,cRLSign "
                        "for a CA; digitalSignature, plus keyEncipherment for RSA)")
    g.add_argument("--eku", default=None, metavar="LIST",
                   help=f"extended key usage, comma list of clientAuth,serverAuth,codeSigning,... "
                        f"(default {LEAF_EKU}" + ("; none with --ca" if not templates else "")
                        + "; '' for none)")
    g.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                   help="subjectAltName DNS:name, IP:addr, URI:uri or email:addr (repeatable)"
                        + ("; {device} is replaced by each device's id, e.g. 'DNS:{device}.local' gives "
                           "dev-0001 the name dev-0001.local" if templates else ""))
    if csr:
        g.add_argument("--no-csr-san", action="store_true",
                       help="do not copy the SANs the CSR asks for (only --san ones go in)")


def ca_pin_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("CA token")
    g.add_argument("--ca-pin", metavar="PIN", help="user PIN of the CA's token (default: --pin; "
                                                   "prefer --ca-pin-source: argv is visible to others)")
    g.add_argument("--ca-pin-source", metavar="SRC", help="file:/path or env:NAME holding the CA token's PIN")


def profile(args: argparse.Namespace, *, is_ca: bool = False, path_length: int | None = None,
            san: tuple[str, ...] | None = None) -> Any:
    """The profile the options describe; ``san`` overrides --san (provision passes () and
    expands its --san templates per device)."""
    from ..ca import profile as P

    eku = args.eku if args.eku is not None else ("" if is_ca else LEAF_EKU)
    return P.Profile(validity_days=args.validity_days,
                     key_usage=P.parse_list(args.key_usage) or None if args.key_usage is not None else None,
                     extended_key_usage=P.parse_list(eku), san=tuple(args.san) if san is None else san,
                     is_ca=is_ca, path_length=path_length,
                     copy_csr_san=not getattr(args, "no_csr_san", False))


# -- token plumbing ------------------------------------------------------------------------
def prompted_pin(value: str | None, source: str | None, prompt: str) -> str | None:
    from ..pinsource import resolve_pin

    return resolve_pin(value, source, prompt=prompt)


def ca_pin(args: argparse.Namespace, ca_name: str) -> str:
    from ..pinsource import resolve_pin

    pin = resolve_pin(args.ca_pin, args.ca_pin_source, allow_prompt=False)
    if pin is None:
        pin = resolve_pin(getattr(args, "pin", None), getattr(args, "pin_source", None),
                          prompt=f"User PIN of CA {ca_name}'s token: ")
    if pin is None:
        C.fail(f"no PIN for CA {ca_name!r}'s token: give --ca-pin-source, --ca-pin or --pin", C.EXIT_AUTH)
    return pin


def open_ca_token(ca: Authority, args: argparse.Namespace) -> Token:
    from ..api import open as open_token

    # ca.module None means strongroom's own module, whatever --module names for the device token
    return open_token(ca.token_target, pin=ca_pin(args, ca.name), module=ca.module)


def load_ca(name: str) -> Authority:
    from ..ca.authority import Authority

    return Authority.load(name)


def same_token(ca: Authority, token: Token) -> bool:
    """Is ``token`` (already open and logged in) the one holding the CA key? Then it is
    used as is, rather than opening and logging in a second time."""
    from ..modules import module_path

    info = token.info
    return (info.get("label") == ca.config.get("token_label")
            and info.get("serial") == ca.config.get("token_serial")
            and Path(ca.module or module_path()).resolve() == Path(token.module_path).resolve())


@contextmanager
def exit_codes() -> Iterator[None]:
    """A CAError leaves with its class's exit code (main.py's table); the CLI framework
    knows the rest."""
    from ..ca.errors import CAError
    from .main import ca_exit_code

    try:
        yield
    except CAError as exc:
        C.fail(str(exc), ca_exit_code(exc))


def write_output(path: str | None, data: bytes) -> None:
    if path in (None, "-"):
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        Path(path).write_bytes(data)
