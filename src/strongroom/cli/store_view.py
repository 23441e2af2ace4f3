"""strongroom-only administration that the PKCS#11 interface does not offer: a token's
store record (object count, bytes used, PIN failure counters), deleting a token and
resetting one without any PIN (``token reset``: the way out of a locked SO PIN).

Reads the SQLite store of $STRONGROOM_HOME directly; used only when the module in use is
strongroom's own. Opening the store never creates one: with no database there is nothing
to read.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _store() -> Iterator[Any]:
    from ..config import load_config
    from ..storage.base import Quota
    from ..storage.sqlite import SqliteStore

    config = load_config()
    if not os.path.exists(config.database):
        yield None
        return
    store = SqliteStore(config.database, Quota(config.quota_objects, config.quota_bytes))
    try:
        yield store
    finally:
        store.close()


def token_usage(serial: str) -> dict[str, Any] | None:
    """Store figures of the token with `serial`: objects, bytes used/free against the
    configured quota, PIN failure counters and the configured maximum; None if unknown."""
    from ..config import load_config

    config = load_config()
    with _store() as store:
        if store is None:
            return None
        for record in store.list_tokens():
            if record.serial == serial:
                return {
                    "store": config.database,
                    "objects": record.object_count,
                    "quota_objects": config.quota_objects,
                    "free_objects": max(0, config.quota_objects - record.object_count),
                    "bytes_used": record.bytes_used,
                    "quota_bytes": config.quota_bytes,
                    "bytes_free": max(0, config.quota_bytes - record.bytes_used),
                    "user_pin_failures": record.user_failures,
                    "so_pin_failures": record.so_failures,
                    "pin_max_tries": config.pin_max_tries,
                }
    return None


def delete_token(serial: str) -> dict[str, Any] | None:
    """Remove the token with `serial` and all its objects; returns what was removed."""
    with _store() as store:
        if store is None:
            return None
        for record in store.list_tokens():
            if record.serial == serial:
                store.delete_token(record.token_id)
                return {"label": record.label, "serial": record.serial, "slot_id": record.slot_id,
                        "objects": record.object_count}
    return None


def home_owned_by_caller() -> bool:
    """True when this process's user owns STRONGROOM_HOME (token reset works on its file
    without any PIN: only the owner of the store may)."""
    from ..config import load_config

    try:
        return os.stat(load_config().home).st_uid == os.getuid()
    except OSError:
        return False


def find_tokens(selector: str) -> list[dict[str, Any]] | None:
    """The tokens of this home's store that `selector` (a label or a pkcs11: URI) names,
    read from the file, not through the module; None when there is no store."""
    from .. import uri as urimod

    wanted = urimod.parse(selector) if urimod.is_uri(selector) else None
    with _store() as store:
        if store is None:
            return None
        found = []
        for record in store.list_tokens():
            if wanted is None:
                hit = record.label == selector
            else:
                hit = wanted.matches_token({"token": record.label, "serial": record.serial,
                                            "manufacturer": "strongroom", "model": "strongroom"}) \
                    and wanted.matches_slot({"slot-id": record.slot_id,
                                             "slot-description": f"strongroom slot {record.slot_id}",
                                             "slot-manufacturer": "strongroom"})
            if hit:
                found.append({"label": record.label, "serial": record.serial,
                              "slot_id": record.slot_id, "objects": record.object_count})
        return found


def reset_token(serial: str) -> dict[str, Any] | None:
    """Wipe the token with `serial` back to the free-slot state: the token record (both
    PIN wraps, the master key check, the counters) and all its objects are deleted and,
    before this returns, scrubbed from the store's files (SqliteStore.delete_token).
    Other tokens are not touched. Returns what was removed, None if unknown."""
    return delete_token(serial)


def token_named(args: Any) -> str | None:
    """The label a prompt should name: --token as given (a URI's token= when it has one),
    else the only token of strongroom's own store; None when neither says."""
    from .. import uri as urimod

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
        found = find_tokens("pkcs11:") or []
    except Exception:
        return None
    return found[0]["label"] if len(found) == 1 else None


def pin_prompt(args: Any, what: str) -> str:
    """"User PIN for token 'work': " -- the prompt names the token it unlocks."""
    label = token_named(args)
    return f"{what} for token {label!r}: " if label else f"{what}: "
