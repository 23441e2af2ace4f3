"""Slots and tokens (v2.40 §5.5 / v3.0 §5.3-§5.4): lists and information, C_InitToken,
and the vendor functions SR_GetTokenUsage / SR_DeleteToken.

Every initialised token has its own slot; one more slot, the smallest number no token
uses, holds the blank token that C_InitToken initialises.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

from .. import __version__
from .._records import TYPE_CHECKING
from ..mechanisms import registry
from ..pkcs11.constants import CK_EFFECTIVELY_INFINITE, CKK, CKR, CKU, SlotFlag, TokenFlag
from ..pkcs11.errors import CKRError
from ..storage.base import TokenRecord
from ..wipe import zero
from .login import authenticate, check_pin_length, pin_flags
from .types import MechanismInfo, SlotInfo, TokenInfo, TokenRemoved, TokenUsage

if TYPE_CHECKING:
    from .application import Application

MANUFACTURER = "strongroom"
MODEL = "strongroom"
_V = tuple(int(x) for x in __version__.split(".")[:2])
VERSION = (_V[0], _V[1])


def free_slot(tokens: Iterable[TokenRecord]) -> int:
    """The one uninitialised slot: the smallest slot number no token uses."""
    used = {t.slot_id for t in tokens}
    return next(i for i in itertools.count() if i not in used)


class SlotCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    def token_in(self, slot_id: int) -> TokenRecord | None:
        """The token in ``slot_id``; None for the free slot; SLOT_ID_INVALID otherwise."""
        tokens = self._app.core.store.list_tokens()
        for record in tokens:
            if record.slot_id == slot_id:
                return record
        if slot_id == free_slot(tokens):
            return None
        raise CKRError(CKR.SLOT_ID_INVALID)

    def initialised_token_in(self, slot_id: int) -> TokenRecord:
        record = self.token_in(slot_id)
        if record is None:
            raise CKRError(CKR.TOKEN_NOT_RECOGNIZED, "the token in this slot is not initialised")
        return record

    def get_slot_list(self, token_present: bool) -> list[int]:
        tokens = self._app.core.store.list_tokens()
        # Every slot always holds a token (initialised or blank), so token_present changes nothing.
        return sorted([t.slot_id for t in tokens] + [free_slot(tokens)])

    def get_slot_info(self, slot_id: int) -> SlotInfo:
        record = self.token_in(slot_id)
        desc = f"strongroom slot {slot_id}" + ("" if record else " (free)")
        return SlotInfo(desc, MANUFACTURER, int(SlotFlag.TOKEN_PRESENT), VERSION, VERSION)

    def get_token_info(self, slot_id: int) -> TokenInfo:
        app = self._app
        config = app.core.config
        record = self.token_in(slot_id)
        sessions = [s for s in app.session_table.values() if s.slot_id == slot_id]
        rw = sum(1 for s in sessions if s.rw)
        flags = TokenFlag.RNG | TokenFlag.LOGIN_REQUIRED
        used = 0
        label = serial = ""
        if record is not None:
            flags |= TokenFlag.TOKEN_INITIALIZED | pin_flags(config, record)
            if record.user_pin_initialized:
                flags |= TokenFlag.USER_PIN_INITIALIZED
            used, label, serial = record.bytes_used, record.label, record.serial
        free = max(0, config.quota_bytes - used)
        max_sessions = config.max_sessions or CK_EFFECTIVELY_INFINITE
        return TokenInfo(
            label=label, manufacturer_id=MANUFACTURER, model=MODEL, serial_number=serial,
            flags=int(flags), max_session_count=max_sessions, session_count=len(sessions),
            max_rw_session_count=max_sessions, rw_session_count=rw,
            max_pin_len=config.pin_max_len, min_pin_len=config.pin_min_len,
            total_public_memory=config.quota_bytes, free_public_memory=free,
            total_private_memory=config.quota_bytes, free_private_memory=free,
            hardware_version=VERSION, firmware_version=VERSION, utc_time="",
        )

    def get_mechanism_list(self, slot_id: int) -> list[int]:
        self.token_in(slot_id)
        return sorted(registry.all_mechanisms())

    def get_mechanism_info(self, slot_id: int, mech: int) -> MechanismInfo:
        self.token_in(slot_id)
        entry = registry.get(mech)
        low = max(entry.min_key_size, self.generation_floor(entry))
        return MechanismInfo(low, entry.max_key_size, int(entry.flags))

    def generation_floor(self, entry: registry.MechanismEntry) -> int:
        """The token's policy minimum for keys a generation mechanism makes (bits; 0: the
        mechanism's own range). Only RSA has one: below 2048 bits by default, lowered with
        ``rsa_min_generate_bits`` for client test suites that generate 1024-bit keys."""
        if entry.gen_key_type == CKK.RSA and entry.generate_pair is not None:
            return self._app.core.config.rsa_min_generate_bits
        return 0

    def init_token(self, slot_id: int, so_pin: bytes | bytearray, label: str) -> None:
        app = self._app
        core = app.core
        with app.lock:
            record = self.token_in(slot_id)
            if record is not None and core.has_sessions_on(record.token_id):
                raise CKRError(CKR.SESSION_EXISTS)
            label = label.rstrip(" ")
            if record is None:
                check_pin_length(core.config, so_pin)
                core.store.create_token(slot_id, label, so_pin, core.kdf())
                return
            # Re-initialisation needs the current SO PIN and wipes every object (v2.40 §5.5).
            zero(authenticate(core.store, core.config, record, CKU.SO, so_pin, core.unlock_cache))
            core.store.reinit_token(record.token_id, label, so_pin, core.kdf())
            self._forget_token(record.token_id)

    def _forget_token(self, token_id: int) -> None:
        app = self._app
        old_login = app.logins.pop(token_id, None)
        if old_login is not None:
            old_login.clear()
        app.core.manager.drop_token(token_id)
        # Handles of its objects now resolve to nothing: store ids are never reused.

    # --- strongroom's vendor functions (abi/strongroom_vendor.h) -------------------------
    def token_usage(self, slot_id: int) -> TokenUsage:
        """Store figures of the token in ``slot_id`` (SR_GetTokenUsage)."""
        c = self._app.core.config
        record = self.initialised_token_in(slot_id)
        return TokenUsage(record.object_count, record.bytes_used, c.quota_objects, c.quota_bytes,
                          record.user_failures, record.so_failures, c.pin_max_tries)

    def delete_token(self, slot_id: int) -> TokenRemoved:
        """Remove the token in ``slot_id`` and all its objects, without any PIN
        (SR_DeleteToken; ``strongroom token delete|reset``, which only the owner of the
        store runs). Its store rows are scrubbed from the files before this returns.
        CKR_SESSION_EXISTS while any application of this process has a session on it."""
        app = self._app
        with app.lock:
            record = self.initialised_token_in(slot_id)
            if app.core.has_sessions_on(record.token_id):
                raise CKRError(CKR.SESSION_EXISTS)
            app.core.store.delete_token(record.token_id)
            self._forget_token(record.token_id)
            return TokenRemoved(record.label, record.serial, record.slot_id, record.object_count)
