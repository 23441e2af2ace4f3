"""``strongroom objects``: every object on the token with every readable attribute — a
debugging view; ``strongroom object set-label``: relabel one object.
Sensitive or unextractable values come back from the API as
"<sensitive>" and are printed as such; nothing here can reveal them."""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C
from . import selector as S

OBJECT_TYPES = ("private", "public", "cert", "secret-key", "data")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("objects", help="debug listing of every object and its attributes "
                                              "(secret values shown as <sensitive>)", **C.examples(
        "strongroom objects --token dev --pin-source file:user.pin",
        "strongroom objects --token dev --json   # public objects only"))
    C.token_command(p, _cmd_objects)

    sub = C.command_group(subparsers, "object", "change one object (set-label)",
                          "strongroom object set-label old-name new-name --type cert --token dev "
                          "--pin-source file:user.pin")
    p = sub.add_parser("set-label", help="give one object a new CKA_LABEL (C_SetAttributeValue)", **C.examples(
        "strongroom object set-label 'Device Priv TLS Key' 'Device Pub TLS Key' --type public "
        "--token dev --pin-source file:user.pin",
        "strongroom object set-label 'pkcs11:id=%01;type=cert' 'Device Cert TLS' --token dev "
        "--pin-source file:user.pin"))
    S.add_selector_argument(p)
    p.add_argument("new_label", metavar="NEW", help="the new CKA_LABEL")
    p.add_argument("--type", dest="object_type", choices=OBJECT_TYPES,
                   help="only objects of this type (when a label names a key pair and its certificate)")
    C.token_command(p, _cmd_set_label)


def _value(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex() if value else "(empty)"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "(none)"
    return str(value)


def render_objects(objects: list[dict[str, Any]]) -> str:
    if not objects:
        return "no objects"
    blocks = []
    for o in objects:
        head = f"{o['type']} {o.get('key_type') or ''} {o['label']!r} id {o['id'] or '-'}".replace("  ", " ")
        lines = [head, f"  uri: {o['uri']}"]
        attrs = o.get("attributes") or {}
        width = max((len(str(k)) for k in attrs), default=0)
        lines += [f"  {k!s:<{width}}  {_value(v)}" for k, v in attrs.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _cmd_objects(args: argparse.Namespace) -> int:
    from .key_cmds import _login_optional, ref_summary

    with _login_optional(args) as token:
        data = [dict(ref_summary(r), attributes=r.attributes()) for r in token.objects()]
    C.emit(args, data, render_objects)
    return C.EXIT_OK


def _cmd_set_label(args: argparse.Namespace) -> int:
    from .key_cmds import ref_summary

    selector, flt = S.filters(args)
    if not args.new_label:
        C.fail("the new label is empty", C.EXIT_USAGE)
    with C.open_token(args) as token:
        refs = token.objects(selector, type=args.object_type, **flt)
        what = S.describe(selector, flt) + (f" of type {args.object_type}" if args.object_type else "")
        if not refs:
            C.fail(f"no object matches {what}", C.EXIT_NOT_FOUND)
        if len(refs) > 1:
            kinds = ", ".join(sorted({r.type for r in refs}))
            C.fail(f"{len(refs)} objects ({kinds}) match {what}: add --type, --id HEX or use a pkcs11: URI",
                   C.EXIT_USAGE)
        before = ref_summary(refs[0])
        after = ref_summary(token.set_label(refs[0], args.new_label))
    C.emit(args, {"before": before, "after": after},
           lambda d: f"relabelled {d['after']['type']} id {d['after']['id'] or '-'}: "
                     f"{d['before']['label']!r} -> {d['after']['label']!r}")
    return C.EXIT_OK
