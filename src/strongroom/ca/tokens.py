"""One token per device: open it, creating it first when it does not exist yet.

Creating is two steps (C_InitToken with the SO PIN, then C_InitPIN for the user PIN), so
a run can die between them; the next run finds a token without a user PIN and finishes
it, rather than failing or making a second token with the same label.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import CAPinNeeded


def _flags(info: dict[str, Any]) -> set[str]:
    return {str(f).upper().removeprefix("CKF_") for f in info.get("flags", ())}


def open_or_create(label: str, *, user_pin: str, so_pin: Callable[[], str | None],
                   module: str | None = None) -> Any:
    """The token labelled ``label``, logged in as user; created (and its user PIN set)
    with ``so_pin()`` when missing. ``so_pin`` is only called when it is needed."""
    from ..api import admin
    from ..api import open as api_open

    exists = any(t.get("label") == label and t.get("initialized", True) for t in admin.list_tokens(module))
    if not exists:
        so = so_pin()
        if so is None:
            raise CAPinNeeded(f"token {label!r} does not exist; give --so-pin-source (or --so-pin) "
                              "to create it")
        admin.init_token(module, None, so, label)
    with api_open(label, module=module) as probe:
        ready = "USER_PIN_INITIALIZED" in _flags(probe.info)
    if not ready:
        so = so_pin()
        if so is None:
            raise CAPinNeeded(f"token {label!r} has no user PIN yet; give --so-pin-source (or --so-pin) "
                              "to set it")
        with api_open(label, so_pin=so, module=module) as token:
            token.init_pin(user_pin)
    return api_open(label, pin=user_pin, module=module)
