"""strongroom-only administration that the PKCS#11 interface does not offer: a token's
store figures (object count, bytes used, PIN failure counters), deleting a token and
resetting one without any PIN (``token reset``: the way out of a locked SO PIN).

Everything goes through strongroom's own module, like every other command: the tokens
are listed with C_GetSlotList / C_GetTokenInfo and the rest are the module's vendor
functions SR_GetTokenUsage / SR_DeleteToken (api/vendor.py). The tools never open the
token store beside the module (docs/design.md, layers). Used only when the module in use
is strongroom's own (is_own_module).
"""
from __future__ import annotations

import os
from typing import Any


def is_own_module(module: str | None) -> bool:
    """True when `module` (None = the default) is strongroom's libstrongroom.so."""
    if module is None:
        return True
    from ..modules import module_path

    try:
        return os.path.samefile(module, module_path())
    except OSError:
        return False


def _own_module() -> str:
    from ..api.library import default_module

    return default_module()


def _slot_of(serial: str) -> dict[str, Any] | None:
    """The initialised token with `serial` in strongroom's module (C_GetTokenInfo), or None."""
    from ..api import admin

    return next((t for t in admin.find_tokens(_own_module(), None) if t["serial"] == serial), None)


def _figures(slot_id: int) -> dict[str, int] | None:
    """SR_GetTokenUsage of the token in `slot_id`; None when the slot is free (by now)."""
    from ..api import vendor
    from ..api.errors import StrongroomError
    from ..pkcs11.constants import CKR

    try:
        return vendor.token_usage(_own_module(), slot_id)
    except StrongroomError as exc:
        if exc.ckr == CKR.TOKEN_NOT_RECOGNIZED:
            return None
        raise


def token_usage(serial: str) -> dict[str, Any] | None:
    """Store figures of the token with `serial`: objects, bytes used/free against the
    configured quota, PIN failure counters and the configured maximum; None if unknown."""
    from ..config import load_config

    token = _slot_of(serial)
    u = _figures(int(token["slot_id"])) if token is not None else None
    if u is None:
        return None
    return {
        "store": load_config().database,
        "objects": u["objects"],
        "quota_objects": u["quota_objects"],
        "free_objects": max(0, u["quota_objects"] - u["objects"]),
        "bytes_used": u["bytes_used"],
        "quota_bytes": u["quota_bytes"],
        "bytes_free": max(0, u["quota_bytes"] - u["bytes_used"]),
        "user_pin_failures": u["user_pin_failures"],
        "so_pin_failures": u["so_pin_failures"],
        "pin_max_tries": u["pin_max_tries"],
    }


def delete_token(serial: str) -> dict[str, Any] | None:
    """Remove the token with `serial` and all its objects through SR_DeleteToken, which
    scrubs the store's rows before it returns. Refused (StrongroomError with .ckr
    CKR_SESSION_EXISTS) while this process has a session on the token. Returns what was
    removed; None if unknown."""
    from ..api import vendor

    token = _slot_of(serial)
    if token is None:
        return None
    slot_id = int(token["slot_id"])
    figures = _figures(slot_id)
    if figures is None:
        return None
    vendor.delete_token(_own_module(), slot_id)
    return {"label": token["label"], "serial": serial, "slot_id": slot_id, "objects": figures["objects"]}


def home_owned_by_caller() -> bool:
    """True when this process's user owns STRONGROOM_HOME (token reset works without any
    PIN: only the owner of the store may)."""
    from ..config import load_config

    try:
        return os.stat(load_config().home).st_uid == os.getuid()
    except OSError:
        return False


def find_tokens(selector: str) -> list[dict[str, Any]]:
    """The initialised tokens of strongroom's module that `selector` (a label or a
    pkcs11: URI) names: label, serial, slot_id and objects (the store's count)."""
    from ..api import admin

    found = []
    for token in admin.find_tokens(_own_module(), selector):
        figures = _figures(int(token["slot_id"]))
        if figures is not None:             # None: deleted since it was listed
            found.append({"label": token["label"], "serial": token["serial"],
                          "slot_id": token["slot_id"], "objects": figures["objects"]})
    return found


def reset_token(serial: str) -> dict[str, Any] | None:
    """Wipe the token with `serial` back to the free-slot state: the token record (both
    PIN wraps, the master key check, the counters) and all its objects are deleted and,
    before this returns, scrubbed from the store's files (the module's SR_DeleteToken).
    Other tokens are not touched. Returns what was removed, None if unknown."""
    return delete_token(serial)


def token_named(args: Any) -> str | None:
    """The label a prompt should name: --token as given (a URI's token= when it has one),
    else the only token of strongroom's own module; None when neither says."""
    from .. import uri as urimod
    from ..api import admin
    from ..api.errors import StrongroomError

    token = getattr(args, "token", None)
    if isinstance(token, str) and token and not urimod.is_uri(token):
        return token
    for given in (token, getattr(args, "key", None)):          # a URI's token= names it
        if isinstance(given, str) and urimod.is_uri(given):
            try:
                label = urimod.parse(given).token
            except urimod.URIError:
                label = None
            if label:
                return label
    if not is_own_module(getattr(args, "module", None)):
        return None
    try:
        found = admin.find_tokens(_own_module(), None)
    except StrongroomError:         # the module cannot be loaded: the command says why
        return None
    return str(found[0]["label"]) if len(found) == 1 else None


def pin_prompt(args: Any, what: str) -> str:
    """"User PIN for token 'work': " -- the prompt names the token it unlocks."""
    label = token_named(args)
    return f"{what} for token {label!r}: " if label else f"{what}: "
