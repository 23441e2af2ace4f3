"""Loading a PKCS#11 module through python-pkcs11 and choosing one of its tokens.

Shared by open() and admin: python-pkcs11 caches one library per path spelling, so a
module is always loaded by one spelling; its attribute mapper gets the attributes
python-pkcs11 lacks; tokens are selected by URI (RFC 7512 matching) or label.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, cast

import pkcs11
from pkcs11 import Attribute, TokenFlag
from pkcs11 import exceptions as p11e

from ..uri import PKCS11URI
from . import importing
from .errors import StrongroomError, TokenNotFound, exactly_one, translated

__all__ = ["attribute_mapper", "default_module", "designated", "initialised_tokens", "load_library", "pin_state",
           "present_tokens", "select", "token_info"]

_PIN_STATES = (("locked", "PIN_LOCKED"), ("final_try", "PIN_FINAL_TRY"),
               ("count_low", "PIN_COUNT_LOW"), ("to_be_changed", "PIN_TO_BE_CHANGED"))


def default_module() -> str:
    """strongroom's own PKCS#11 module inside the installed package."""
    from ..modules import module_path

    return str(module_path())


def load_library(path: str | os.PathLike[str]) -> Any:
    """python-pkcs11's handle on a module (cached per path by python-pkcs11; initialised
    again if it was finalised)."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise StrongroomError(f"PKCS#11 module not found: {name}")
    real = os.path.realpath(name)
    for spelling in list(getattr(pkcs11, "_loaded", {})):   # python-pkcs11 caches by spelling: a second
        if os.path.realpath(spelling) == real:            # spelling would C_Initialize the module twice
            name = spelling
            break
    try:
        return pkcs11.lib(name)
    except p11e.PKCS11Error as exc:
        raise StrongroomError(f"cannot initialise PKCS#11 module {name}: {type(exc).__name__}") from None
    except (RuntimeError, OSError) as exc:     # dlopen errors (python-pkcs11 raises RuntimeError)
        raise StrongroomError(f"cannot load PKCS#11 module {name}: {exc}") from None


def attribute_mapper() -> Any:
    """python-pkcs11's attribute mapper plus the attributes it lacks (CKA_PUBLIC_KEY_INFO)."""
    from pkcs11.attributes import AttributeMapper, handle_bytes

    mapper = AttributeMapper()
    # python-pkcs11 keys its handlers by the number at run time; its Attribute enum lacks this one
    mapper.register_handler(cast(Attribute, importing.PUBLIC_KEY_INFO), *handle_bytes)
    mapper.register_handler(Attribute.ALLOWED_MECHANISMS, _pack_ulongs, _unpack_ulongs)
    pack_key_type, unpack_key_type = mapper.attribute_types[Attribute.KEY_TYPE]

    def key_type(data: bytes) -> Any:       # CKK_EC_MONTGOMERY and vendor types stay ints
        try:
            return unpack_key_type(data)
        except ValueError:
            return _unpack_ulongs(data)[0]

    mapper.register_handler(Attribute.KEY_TYPE, pack_key_type, key_type)
    return mapper


def _pack_ulongs(values: Iterable[int]) -> bytes:
    """CK_MECHANISM_TYPE[] as the module reads it (native unsigned longs)."""
    import struct

    values = [int(v) for v in values]
    return struct.pack(f"@{len(values)}L", *values)


def _unpack_ulongs(data: bytes) -> list[int]:
    import struct

    size = struct.calcsize("@L")
    return list(struct.unpack(f"@{len(data) // size}L", data[:len(data) - len(data) % size]))


def pin_state(flags: int, who: str = "user") -> str:
    """ok | count_low | final_try | locked | to_be_changed from CK_TOKEN_INFO flags."""
    prefix = "USER_" if who == "user" else "SO_"
    for state, name in _PIN_STATES:
        if flags & getattr(TokenFlag, prefix + name):
            return state
    return "ok"


def present_tokens(lib: Any) -> list[tuple[Any, Any]]:
    """(slot, token) for every slot holding a token (initialised or not)."""
    with translated("listing the module's slots"):
        slots = lib.get_slots(token_present=True)
    found = []
    for slot in slots:
        try:
            found.append((slot, slot.get_token()))
        except (p11e.TokenNotPresent, p11e.TokenNotRecognised):
            continue
    return found


def token_info(token: Any) -> dict[str, str]:
    return {"token": token.label, "manufacturer": token.manufacturer_id,
            "serial": token.serial.decode("utf-8", "replace"), "model": token.model}


def _slot_info(slot: Any) -> dict[str, object]:
    return {"slot-id": slot.slot_id, "slot-description": slot.slot_description,
            "slot-manufacturer": slot.manufacturer_id}


def _library_info(lib: Any) -> dict[str, str]:
    return {"library-manufacturer": lib.manufacturer_id, "library-description": lib.library_description,
            "library-version": "{}.{}".format(*lib.library_version)}


def initialised_tokens(lib: Any) -> list[tuple[Any, Any]]:
    """(slot, token) for every slot whose token is initialised."""
    return [(s, t) for s, t in present_tokens(lib) if t.flags & TokenFlag.TOKEN_INITIALIZED]


def designated(lib: Any, tokens: list[tuple[Any, Any]], uri: PKCS11URI | None,
               label: str | None) -> list[tuple[Any, Any]]:
    """Those of `tokens` the URI (RFC 7512 matching of library, token and slot attributes)
    or the label designates; all of them when neither is given."""
    if uri is not None:
        library = _library_info(lib)
        return [(s, t) for s, t in tokens
                if uri.matches_library(library) and uri.matches_token(token_info(t))
                and uri.matches_slot(_slot_info(s))]
    if label is not None:
        return [(s, t) for s, t in tokens if t.label == label]
    return tokens


def select(lib: Any, uri: PKCS11URI | None, label: str | None, module: str) -> tuple[Any, Any]:
    """The one initialised token the URI / label / nothing designates."""
    initialised = initialised_tokens(lib)
    matches = designated(lib, initialised, uri, label)
    if uri is not None:
        what = f"matching {uri.format(hide_pin=True)}"
    else:
        what = f"labelled {label!r}" if label is not None else "initialised"
    labels = ", ".join(repr(t.label) for _, t in initialised) or "none"
    return exactly_one(matches, TokenNotFound(f"no token {what} in module {module}; initialised tokens: {labels}"),
                       f"tokens {what} in module {module} ({', '.join(repr(t.label) for _, t in matches)}): "
                       "name one by label or URI")
