"""``strongroom objects``: every object on the token with every readable attribute — a
debugging view. Sensitive or unextractable values come back from the API as
"<sensitive>" and are printed as such; nothing here can reveal them."""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("objects", help="debug listing of every object and its attributes "
                                              "(secret values shown as <sensitive>)")
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_objects)


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
        lines += [f"  {str(k):<{width}}  {_value(v)}" for k, v in attrs.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _cmd_objects(args: argparse.Namespace) -> int:
    from .key_cmds import _login_optional, ref_summary

    with _login_optional(args) as token:
        data = [dict(ref_summary(r), attributes=r.attributes()) for r in token.objects()]
    C.emit(args, data, render_objects)
    return C.EXIT_OK
