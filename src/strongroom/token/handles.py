"""Object handles as one application sees them (v2.40 §6.7.5 / v3.0 §4.1.6 "Object handles").

Each application numbers the objects it reaches itself: a handle means nothing to
another application (another connection of the token service gets
CKR_OBJECT_HANDLE_INVALID). A handle stays valid while the object exists and stays
accessible to the application; when a private object stops being accessible (the user
logs out) its handle is dropped and is never issued again -- after the next login the
same object gets a new handle. Handles come from one counter per application, so no
number is ever reused.

Targets are the core's object ids (the store's id for token objects, the object
manager's id for session objects); the table maps both ways so the same object keeps
its handle across C_FindObjects calls.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError


class HandleTable:
    """Handle <-> core object id, for one application. Callers hold the application's lock
    for ``issue`` (find and create run under it); lookups are plain dict reads."""

    __slots__ = ("_handle_of", "_next", "_target_of")

    def __init__(self) -> None:
        self._target_of: dict[int, int] = {}
        self._handle_of: dict[int, int] = {}
        self._next = itertools.count(1)

    def issue(self, target: int) -> int:
        """The application's handle for core object ``target`` (a new one the first time)."""
        handle = self._handle_of.get(target)
        if handle is None:
            handle = next(self._next)
            self._handle_of[target] = handle
            self._target_of[handle] = target
        return handle

    def target(self, handle: int) -> int:
        """The core object id behind ``handle``; CKR_OBJECT_HANDLE_INVALID if none."""
        try:
            return self._target_of[handle]
        except KeyError:
            raise CKRError(CKR.OBJECT_HANDLE_INVALID) from None

    def handle(self, target: int) -> int | None:
        """The handle already issued for ``target``, if any (no new handle)."""
        return self._handle_of.get(target)

    def targets(self) -> list[int]:
        return list(self._handle_of)

    def drop(self, targets: Iterable[int]) -> None:
        """Forget these objects' handles for good (destroyed, or no longer accessible)."""
        for target in targets:
            handle = self._handle_of.pop(target, None)
            if handle is not None:
                del self._target_of[handle]

    def clear(self) -> None:
        """C_Finalize: every handle goes; the counter goes on (no number is reused)."""
        self._target_of.clear()
        self._handle_of.clear()
