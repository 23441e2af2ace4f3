"""Naming an object on the command line: a pkcs11: URI or a label, optionally --id HEX."""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C


def add_selector_argument(parser: argparse.ArgumentParser, *, name: str = "selector",
                          option: str | None = None) -> None:
    """SELECTOR (positional, or `option` such as --key) plus --id HEX; filters() insists on
    one of the two."""
    help_text = ("pkcs11: URI or label of the object; a URI's token/serial/slot-id pick the token "
                 "and its pin-value/pin-source give the PIN")
    if option:
        parser.add_argument(option, dest=name, metavar="SELECTOR", help=help_text + " (or --id alone)")
    else:
        parser.add_argument(name, metavar="SELECTOR", nargs="?", help=help_text + " (or --id alone)")
    parser.add_argument("--id", dest="object_id", type=parse_id, metavar="HEX",
                        help="CKA_ID in hex (narrows the selector, or selects alone)")
    # common.open_token reads the token, module and PIN a selector URI carries from here.
    parser.set_defaults(selector_dest=name)


def parse_id(text: str) -> bytes:
    """argparse type for --id: hex digits, optional ':' separators (exit 2 otherwise)."""
    cleaned = text.replace(":", "").strip()
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        value = bytes.fromhex(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex CKA_ID: {text!r}") from None
    if not value:
        raise argparse.ArgumentTypeError("empty CKA_ID")
    return value


def filters(args: argparse.Namespace, name: str = "selector") -> tuple[str | None, dict[str, Any]]:
    """(selector, filters) for Token.objects()/find() from the parsed arguments."""
    selector = getattr(args, name, None)
    found: dict[str, Any] = {}
    if getattr(args, "object_id", None) is not None:
        found["id"] = args.object_id
    if selector is None and not found:
        C.fail("name an object: a pkcs11: URI, a label, or --id HEX", C.EXIT_USAGE)
    return selector, found


def describe(selector: str | None, flt: dict[str, Any]) -> str:
    parts = [repr(selector)] if selector else []
    if "id" in flt:
        parts.append(f"id {flt['id'].hex()}")
    return " ".join(parts)
