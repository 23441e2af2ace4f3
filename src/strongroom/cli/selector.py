"""Naming an object on the command line: a pkcs11: URI or a label, optionally --id HEX."""
from __future__ import annotations

import argparse
from collections.abc import Callable
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


def selector_command(subparsers: Any, name: str, text: str, examples: tuple[str, ...],
                     func: Callable[[argparse.Namespace], int], *, export: bool = False) -> argparse.ArgumentParser:
    """A sub-command on the objects a selector names (``cert show``, ``key export-public``):
    its help and examples, SELECTOR / --id, then the token options (and --der / -o when it
    `export`s); returns the parser for options of its own."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=text, **C.examples(*examples))
    add_selector_argument(parser)
    (C.export_command if export else C.token_command)(parser, func)
    return parser


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


def _readable(token: Any, ref: Any) -> Any:
    """The pyca public key of a token public-key object, or None when pyca cannot hold it
    (ML-DSA, ML-KEM): the token can still verify with the object itself."""
    try:
        return token.public_key_of(ref)
    except ValueError:
        return None


def public_key_of_identity(token: Any, selector: str | None, flt: dict[str, Any]) -> tuple[Any, Any]:
    """(pyca public key or None, the token's public-key object or None) for whatever a selector
    names of one identity: objects sharing a CKA_ID are one key pair and its certificate
    (ESP32-style labels "Device Priv TLS Key" / "Device Pub TLS Key" / "Device Cert TLS"),
    so a private key's or a certificate's label resolves to the public key through the
    shared CKA_ID, else the private key's CKA_PUBLIC_KEY_INFO, else the certificate."""
    from ..api.errors import StrongroomError

    refs = [r for r in token.objects(selector, **flt) if r.type in ("public", "private", "cert")]
    what = describe(selector, flt)
    if not refs:
        hint = "" if token.logged_in else " (private keys need a PIN: --pin-source)"
        C.fail(f"no key or certificate matches {what}{hint}", C.EXIT_NOT_FOUND)
    publics = [r for r in refs if r.type == "public"]
    ids = {r.id for r in refs}
    if len(ids) > 1:
        C.fail(f"{len(ids)} identities (CKA_IDs) match {what}: add --id HEX or use a pkcs11: URI with id=",
               C.EXIT_USAGE)
    if len(publics) > 1:
        C.fail(f"{len(publics)} public keys match {what}: use a pkcs11: URI to tell them apart", C.EXIT_USAGE)
    if publics:
        return _readable(token, publics[0]), publics[0]
    ident = ids.pop()
    private = next((r for r in refs if r.type == "private"), None)
    same_id = [p for p in token.objects(id=ident, type="public") if ident
               and (private is None or p.key_type == private.key_type)]
    if len(same_id) == 1:
        return _readable(token, same_id[0]), same_id[0]
    if private is not None:
        try:
            return token.public_key_of(private), None
        except (ValueError, StrongroomError):
            pass                    # no readable public part: try the certificate below
    certs = [r for r in refs if r.type == "cert"]
    if not certs and ident:
        certs = token.objects(id=ident, type="cert")
    if certs:
        return token.certificate(certs[0].uri).public_key(), None
    C.fail(f"no public key for {what}: no public-key object or certificate shares its CKA_ID "
           f"{ident.hex() or '-'}", C.EXIT_NOT_FOUND)
    raise AssertionError  # unreachable
