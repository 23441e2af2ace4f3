"""``strongroom pin set | unlock | change``.

``pin set`` and ``pin unlock`` are one operation (C_InitPIN as the Security Officer): it
sets the user PIN and so also clears a locked one. ``pin change`` is C_SetPIN, by the user
or, with --so, by the Security Officer.
"""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C

_EXAMPLES = {
    "set": "  strongroom pin set --token work                       # asks for the SO PIN, then the user PIN twice\n"
           "  strongroom pin set --token work --so-pin-source file:so.pin --pin-source file:user.pin",
    "unlock": "  strongroom pin unlock --token work                    # after CKR_PIN_LOCKED on the user PIN\n"
              "  strongroom pin unlock --token work --so-pin-source env:SO_PIN --pin-source env:NEW_PIN",
    "change": "  strongroom pin change --token work                    # the user PIN, asked for at the prompt\n"
              "  strongroom pin change --token work --so --so-pin-source file:so.pin "
              "--new-pin-source file:new-so.pin",
}


def _add(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    return C.subcommand(sub, name, text, _EXAMPLES[name])


def register(subparsers: Any) -> None:
    sub = C.command_group(subparsers, "pin", "set, unlock or change PINs",
                          *(_EXAMPLES[name].splitlines()[0].removeprefix("  ") for name in ("unlock", "change")))
    for name, text in (("set", "the SO sets the user PIN (--pin / --pin-source is the new user PIN)"),
                       ("unlock", "the SO resets a locked user PIN (same as 'pin set')")):
        p = _add(sub, name, text)
        C.add_token_arguments(p, so=True)
        C.add_json_argument(p)
        p.set_defaults(func=_cmd_set, verb=name)

    p = _add(sub, "change", "change the user PIN (or the SO PIN with --so)")
    C.add_token_arguments(p, so=True)
    p.add_argument("--so", action="store_true", help="change the SO PIN (old one from --so-pin/--so-pin-source)")
    p.add_argument("--new-pin", metavar="PIN", help="the new PIN")
    p.add_argument("--new-pin-source", metavar="SRC", help="file:/path or env:NAME holding the new PIN")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_change)


def _new_pin(value: str | None, source: str | None, what: str, option: str) -> str:
    """A new PIN from its option or source, or typed twice at a terminal."""
    from ..pinsource import resolve_pin

    pin = resolve_pin(value, source, allow_prompt=False)
    if pin is not None:
        return pin
    pin = resolve_pin(prompt=f"New {what}: ")
    if pin is None:
        C.fail(f"no new {what}: give {option}-source file:PATH|env:NAME or {option}", C.EXIT_AUTH)
    if resolve_pin(prompt=f"New {what} again: ") != pin:
        C.fail(f"the two new {what}s typed differ; nothing changed", C.EXIT_USAGE)
    return pin


def _for_token(what: str, label: str | None) -> str:
    return f"{what} for token {label!r}" if label else what


def _cmd_set(args: argparse.Namespace) -> int:
    from .store_view import token_named

    new = _new_pin(args.pin, args.pin_source, _for_token("user PIN", token_named(args)), "--pin")
    with C.open_token(args, so=True) as token:
        label = token.info.get("label")
        token.init_pin(new)
    verb = "unlocked: new user PIN set" if args.verb == "unlock" else "user PIN set"
    C.emit(args, {"token": label, "user_pin_set": True},
           lambda d: f"token {d['token']!r}: {verb}")
    return C.EXIT_OK


def _cmd_change(args: argparse.Namespace) -> int:
    what = "SO PIN" if args.so else "user PIN"
    from .store_view import pin_prompt, token_named

    old = C.so_pin(args, prompt=pin_prompt(args, "Current SO PIN")) if args.so else \
        C.user_pin(args, prompt=pin_prompt(args, "Current user PIN"))
    new = _new_pin(args.new_pin, args.new_pin_source, _for_token(what, token_named(args)), "--new-pin")
    from ..api import open as api_open

    with api_open(args.token, module=args.module, so_pin=old if args.so else None,
                  pin=None if args.so else old) as token:
        label = token.info.get("label")
        token.change_pin(old, new)
    C.emit(args, {"token": label, "changed": "so" if args.so else "user"},
           lambda d: f"token {d['token']!r}: {what} changed")
    return C.EXIT_OK
