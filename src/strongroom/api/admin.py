"""Token administration the API needs beyond a session: list tokens, initialise one,
read what a mechanism allows.

python-pkcs11 has no C_InitToken, so init_token() calls it through ctypes (cfuncs.py) on
the module python-pkcs11 has loaded. Works with any PKCS#11 module.
"""
from __future__ import annotations

import os
from typing import Any

from pkcs11 import TokenFlag

from ..uri import is_uri, parse
from . import cfuncs
from .errors import StrongroomError, TokenNotFound, rv_name, translated
from .library import default_module, designated, initialised_tokens, load_library, pin_state, present_tokens

__all__ = ["find_tokens", "init_token", "key_sizes", "list_tokens"]


def _token_entry(slot: Any, token: Any) -> dict[str, Any]:
    flags = int(token.flags)
    return {"slot_id": slot.slot_id, "label": token.label, "manufacturer": token.manufacturer_id,
            "model": token.model, "serial": token.serial.decode("utf-8", "replace"),
            "initialized": bool(flags & TokenFlag.TOKEN_INITIALIZED),
            "flags": [f.name for f in TokenFlag if f.value and f.value & flags],
            "user_pin": pin_state(flags, "user"), "so_pin": pin_state(flags, "so")}


def list_tokens(module: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every slot holding a token: slot_id, label, manufacturer, model, serial,
    initialized, flags and PIN states (no login needed)."""
    lib = load_library(module if module is not None else default_module())
    return [_token_entry(slot, token) for slot, token in present_tokens(lib)]


def find_tokens(module: str | os.PathLike[str] | None, selector: str | None) -> list[dict[str, Any]]:
    """The initialised tokens `selector` designates (a pkcs11: URI, a label, None: all),
    as list_tokens() describes them; possibly none, possibly several."""
    lib = load_library(module if module is not None else default_module())
    uri = parse(selector) if selector is not None and is_uri(selector) else None
    label = selector if uri is None else None
    return [_token_entry(s, t) for s, t in designated(lib, initialised_tokens(lib), uri, label)]


def key_sizes(module: str | os.PathLike[str] | None, mechanism: str, slot_id: int | None = None) -> tuple[int, int]:
    """The key sizes C_GetMechanismInfo reports for `mechanism` (a name such as
    "RSA_PKCS_KEY_PAIR_GEN") in `slot_id` (None: the module's first slot), as (min, max)
    in the mechanism's unit (bits for RSA); a module's policy floor is part of min."""
    from .mechanisms import mechanism as mechanism_named

    lib = load_library(module if module is not None else default_module())
    with translated(f"reading the mechanism info of {mechanism}"):
        slots = [s for s in lib.get_slots() if slot_id is None or s.slot_id == slot_id]
        if not slots:
            raise TokenNotFound(f"no slot {slot_id} in the module")
        info = slots[0].get_mechanism_info(mechanism_named(mechanism))
    return int(info.min_key_length or 0), int(info.max_key_length or 0)


def _slot_for(lib: Any, slot_or_uri: int | str | None) -> int:
    """The slot to initialise: a slot id, a URI's slot-id, or the first slot whose token
    is not initialised yet."""
    if isinstance(slot_or_uri, int):
        return slot_or_uri
    if isinstance(slot_or_uri, str) and is_uri(slot_or_uri):
        uri = parse(slot_or_uri)
        if uri.slot_id is not None:
            return uri.slot_id
        if uri.token is not None:          # re-initialise the token with that label
            for slot, token in present_tokens(lib):
                if token.label == uri.token:
                    return int(slot.slot_id)
            raise TokenNotFound(f"no token labelled {uri.token!r} to re-initialise")
    elif slot_or_uri is not None:
        raise ValueError(f"slot must be a slot id, a pkcs11: URI or None, not {slot_or_uri!r}")
    for slot, token in present_tokens(lib):
        if not token.flags & TokenFlag.TOKEN_INITIALIZED:
            return int(slot.slot_id)
    raise TokenNotFound("no slot with an uninitialised token left in the module")


def init_token(module: str | os.PathLike[str] | None, slot_or_uri: int | str | None, so_pin: str, label: str,
               *, user_pin: str | None = None) -> int:
    """C_InitToken on a slot (see _slot_for), then, if `user_pin`, C_InitPIN as SO.
    Returns the slot id the token was initialised in (some modules, e.g. SoftHSM2, then
    move the token to a new slot id: find it again by label)."""
    path = os.fspath(module) if module is not None else default_module()
    if len(label.encode("utf-8")) > 32:
        raise ValueError(f"token label {label!r} is longer than 32 bytes")
    lib = load_library(path)
    slot_id = _slot_for(lib, slot_or_uri)
    rv = cfuncs.init_token(path, slot_id, so_pin, label)
    if rv != 0:
        raise StrongroomError(f"initialising the token in slot {slot_id} as {label!r} failed: {rv_name(rv)}",
                              ckr=rv)
    if user_pin is not None:
        from .session import open as open_token

        with open_token(label, so_pin=so_pin, module=path) as token:
            token.init_pin(user_pin)
    return slot_id
