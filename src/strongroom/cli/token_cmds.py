"""``strongroom token init | list | info | delete | reset``."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from . import common as C

_EXAMPLES = {
    "init": "  strongroom token init --label work                    # asks for the SO PIN twice, then the user PIN\n"
            "  strongroom token init --label work --so-pin-source file:so.pin --pin-source file:user.pin",
    "list": "  strongroom token list\n  strongroom token list --json\n"
            "  strongroom token list --module /usr/lib/softhsm/libsofthsm2.so",
    "info": "  strongroom token info --token work\n  strongroom token info --token work --pin-source env:PIN\n"
            "  strongroom token info --token 'pkcs11:serial=9F882031E336EED3' --json",
    "delete": "  strongroom token delete --token work                  # asks for the SO PIN\n"
              "  strongroom token delete --token work --so-pin-source file:so.pin",
    "reset": "  strongroom token reset --token work                   # asks for confirmation\n"
             "  strongroom token reset --token 'pkcs11:serial=9F882031E336EED3' --yes",
}


def _add(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    return C.subcommand(sub, name, text, _EXAMPLES[name])


def _module_argument(group: Any) -> None:
    group.add_argument("--module", metavar="PATH",
                       help="PKCS#11 module to load (default: strongroom's own libstrongroom.so)")


def _so_pin_arguments(group: Any) -> None:
    group.add_argument("--so-pin", metavar="PIN", help="Security Officer PIN (prefer --so-pin-source)")
    group.add_argument("--so-pin-source", metavar="SRC", help="file:/path or env:NAME holding the SO PIN")


def register(subparsers: Any) -> None:
    sub = C.command_group(subparsers, "token", "create, list, inspect and delete tokens",
                          *(_EXAMPLES[name].splitlines()[0].removeprefix("  ") for name in ("init", "info")))

    p = _add(sub, "init", "initialise the free slot's token: sets the SO PIN and, with --pin / "
                          "--pin-source or at the prompt, the user PIN")
    p.add_argument("--label", required=True, help="token label (up to 32 bytes)")
    g = p.add_argument_group("token")
    _module_argument(g)
    _so_pin_arguments(g)
    g.add_argument("--pin", metavar="PIN", help="the new user PIN (prefer --pin-source)")
    g.add_argument("--pin-source", metavar="SRC", help="file:/path or env:NAME holding the new user PIN")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_init, token=None)

    p = _add(sub, "list", "the module's slots and their tokens (and, for strongroom's own, the store read)")
    p.add_argument("--module", metavar="PATH", help="PKCS#11 module (default: strongroom's own)")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_list)

    p = _add(sub, "info", "one token's flags, PIN states, objects and storage use")
    C.token_command(p, _cmd_info)

    p = _add(sub, "delete", "remove a strongroom token and all its objects (needs the SO PIN)")
    g = p.add_argument_group("token")
    g.add_argument("--token", metavar="TOKEN", help="pkcs11: URI or token label (required)")
    _module_argument(g)
    _so_pin_arguments(g)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_delete)

    p = _add(sub, "reset", "wipe one strongroom token back to a free slot without any PIN "
                           "(e.g. a locked SO PIN); only the owner of STRONGROOM_HOME")
    p.add_argument("--token", metavar="TOKEN", help="pkcs11: URI or token label (required)")
    p.add_argument("--module", metavar="PATH", help=argparse.SUPPRESS)   # only strongroom's own
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_reset)


def _check_label(label: str) -> None:
    if not label.strip():
        C.fail("--label: a token label cannot be empty", C.EXIT_USAGE)
    if len(label.encode()) > 32:
        C.fail(f"--label: {label!r} is longer than 32 bytes", C.EXIT_USAGE)


def _cmd_init(args: argparse.Namespace) -> int:
    from ..api import admin

    _check_label(args.label)
    if any(t.get("label") == args.label for t in admin.list_tokens(args.module) if t.get("initialized", True)):
        C.fail(f"a token labelled {args.label!r} already exists", C.EXIT_USAGE)
    so = _new_so_pin(args)
    pin = _new_user_pin(args)
    slot = admin.init_token(args.module, None, so, args.label, user_pin=pin)
    result: dict[str, Any] = {"label": args.label, "slot_id": slot, "user_pin_set": pin is not None}
    later = f"set the user PIN with 'strongroom pin set --token {shlex.quote(args.label)}'"
    C.emit(args, result, lambda d: f"token {d['label']!r} initialised in slot {d['slot_id']}"
           + ("; user PIN set" if d["user_pin_set"] else f"; {later}"))
    return C.EXIT_OK


def _typed_twice(what: str, label: str, note: str = "", *, allow_empty: bool = False) -> str | None:
    """A new PIN typed twice at the terminal (no echo); a mismatch stops before anything
    is created. With `allow_empty`, an empty first answer means "not now" (None)."""
    import getpass

    prompt = f"New {what} for token {label!r}{note}"
    try:
        first = getpass.getpass(f"{prompt}: ")
        if not first:
            if allow_empty:
                return None
            C.fail(f"no {what} entered: nothing was created", C.EXIT_AUTH)
        again = getpass.getpass(f"{prompt} again: ")
    except EOFError:
        C.fail(f"no {what} entered: nothing was created", C.EXIT_AUTH)
    if again != first:
        C.fail(f"the two {what}s typed differ: nothing was created", C.EXIT_USAGE)
    return first


def _interactive() -> bool:
    return sys.stdin.isatty()


def _new_so_pin(args: argparse.Namespace) -> str:
    if args.so_pin is not None or args.so_pin_source is not None or not _interactive():
        return C.so_pin(args)          # from the option, or the "give --so-pin-source" error
    pin = _typed_twice("SO PIN", args.label)
    assert pin is not None
    return pin


def _new_user_pin(args: argparse.Namespace) -> str | None:
    """From --pin / --pin-source; at a terminal typed twice (empty: later); else None."""
    if args.pin is not None or args.pin_source is not None:
        return C.user_pin(args, required=True)
    if not _interactive():
        return None
    return _typed_twice("user PIN", args.label, " (empty: set it later with 'strongroom pin set')",
                        allow_empty=True)


def _cmd_list(args: argparse.Namespace) -> int:
    from ..api import admin
    from . import store_view

    tokens = admin.list_tokens(args.module)
    store = _store_line() if store_view.is_own_module(args.module) else ""
    C.emit(args, tokens, lambda t: _render_list(t) + store)
    return C.EXIT_OK


def _store_line() -> str:
    """Which store strongroom's module read: the home matters when there are several."""
    from ..config import load_config

    return f"\nstore: {load_config().database}"


def _render_list(tokens: list[dict[str, Any]]) -> str:
    if not tokens:
        return "no slots"
    lines = []
    for t in tokens:
        if not t.get("initialized", True) or not t.get("label"):
            lines.append(f"slot {t.get('slot_id')}: (free: no token; 'strongroom token init' creates one)")
        else:
            lines.append(f"slot {t.get('slot_id')}: {t.get('label')!r}  serial {t.get('serial')}  "
                         f"{t.get('manufacturer', '')} {t.get('model', '')}".rstrip())
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    from . import store_view

    login = args.pin is not None or args.pin_source is not None
    with C.open_token(args, login=login) as token:
        info = dict(token.info)
        info["objects_visible"] = len(token.objects())
        info["logged_in"] = login
    if "USER_PIN_INITIALIZED" not in (info.get("flags") or []):
        info["user_pin"] = "not set"          # CKF_USER_PIN_INITIALIZED absent: no state to show
    if store_view.is_own_module(info.get("module_path")):     # also a URI's module-path
        usage = store_view.token_usage(str(info.get("serial", "")))
        if usage is not None:
            info["storage"] = usage
    C.emit(args, info, _render_info)
    return C.EXIT_OK


def _render_info(d: dict[str, Any]) -> str:
    lines = [f"label:          {d.get('label')}",
             f"serial:         {d.get('serial')}",
             f"manufacturer:   {d.get('manufacturer')}",
             f"model:          {d.get('model')}",
             f"slot:           {d.get('slot_id')}",
             f"module:         {d.get('module_path')}",
             f"flags:          {', '.join(d.get('flags') or [])}",
             f"user PIN:       {d.get('user_pin')}"
             + (" ('strongroom pin set' sets it)" if d.get("user_pin") == "not set" else ""),
             f"SO PIN:         {d.get('so_pin')}",
             f"objects:        {d.get('objects_visible')} visible"
             + ("" if d.get("logged_in") else " without login (give --pin to see private objects)")]
    s = d.get("storage")
    if s:
        lines += [f"stored objects: {s['objects']} of {s['quota_objects']} ({s['free_objects']} free)",
                  f"storage:        {s['bytes_used']} of {s['quota_bytes']} bytes ({s['bytes_free']} free)",
                  (f"PIN failures:   user {s['user_pin_failures']}, SO {s['so_pin_failures']} "
                   f"(locks at {s['pin_max_tries']})"),
                  f"store:          {s['store']}"]
    if d.get("mechanisms") is not None:
        lines.append(f"mechanisms:     {d.get('mechanisms')}")
    return "\n".join(lines)


def _require_own_token(args: argparse.Namespace, verb: str, gerund: str) -> None:
    """``token delete`` / ``token reset`` act on strongroom's own store, on a named token."""
    from . import store_view

    if not store_view.is_own_module(args.module):
        C.fail(f"token {verb} works on strongroom's own tokens only (other modules: use their tools)",
               C.EXIT_USAGE)
    if not args.token:
        C.fail(f"token {verb} needs --token (a label or pkcs11: URI): {gerund} is never implicit",
               C.EXIT_USAGE)


def _cmd_delete(args: argparse.Namespace) -> int:
    from . import store_view

    _require_own_token(args, "delete", "deleting")
    # Logging in as SO checks the PIN through the module (failures count, locks apply).
    with C.open_token(args, so=True) as token:
        info = token.info
    if not store_view.is_own_module(info.get("module_path")):          # a URI's module-path
        C.fail("token delete works on strongroom's own tokens only (other modules: use their tools)",
               C.EXIT_USAGE)
    serial = str(info.get("serial", ""))
    removed = store_view.delete_token(serial)
    if removed is None:
        C.fail(f"token {args.token!r} is not in this home's store", C.EXIT_NOT_FOUND)
    C.emit(args, removed, lambda d: f"deleted token {d['label']!r} (serial {d['serial']}, slot "
                                    f"{d['slot_id']}) and its {d['objects']} object(s)")
    return C.EXIT_OK


def _cmd_reset(args: argparse.Namespace) -> int:
    """Deletes the token through the module's SR_DeleteToken, like ``token delete``, but
    asks for no PIN: it is the way out when the SO PIN is locked. What stands in for the
    PIN is owning the home (whoever can write the store's file can delete it anyway)."""
    from .. import uri as urimod
    from . import store_view

    _require_own_token(args, "reset", "resetting")
    if urimod.is_uri(args.token):
        try:
            module = urimod.parse(args.token).module_path
        except urimod.URIError as exc:
            C.fail(f"--token: {exc}", C.EXIT_USAGE)
        if not store_view.is_own_module(module):
            C.fail("token reset works on strongroom's own tokens only (the URI names another module)",
                   C.EXIT_USAGE)
    if not store_view.home_owned_by_caller():
        C.fail("token reset must be run by the owner of STRONGROOM_HOME", C.EXIT_FAILURE)
    found = store_view.find_tokens(args.token) or []
    if not found:
        C.fail(f"token {args.token!r} is not in this home's store", C.EXIT_NOT_FOUND)
    if len(found) > 1:
        C.fail(f"{len(found)} tokens match {args.token!r}: name one by URI with its serial "
               "(pkcs11:serial=...)", C.EXIT_USAGE)
    target = found[0]
    if not args.yes:
        _confirm_reset(target)
    removed = store_view.reset_token(target["serial"])
    if removed is None:                     # removed by someone else since we looked
        C.fail(f"token {args.token!r} is not in this home's store", C.EXIT_NOT_FOUND)
    C.emit(args, removed, lambda d: f"reset token {d['label']!r} (serial {d['serial']}): its "
                                    f"{d['objects']} object(s) and PINs are gone; slot {d['slot_id']} "
                                    "is free for 'strongroom token init'")
    return C.EXIT_OK


def _confirm_reset(target: dict[str, Any]) -> None:
    """Ask on the terminal; without one (a script) the caller must say --yes."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        C.fail("token reset destroys the token and its objects: confirm on a terminal or give --yes",
               C.EXIT_USAGE)
    sys.stderr.write(f"Reset token {target['label']!r} (serial {target['serial']}, slot "
                     f"{target['slot_id']})? Its {target['objects']} object(s) and both PINs are "
                     "destroyed for good. Type 'yes' to go on: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        C.fail("token reset not confirmed: nothing was changed", C.EXIT_FAILURE)
