"""PIN policy and the application's login state on each token.

The failure counters live in the store (so lockout survives restarts and is shared by
every process); the unlocked master key lives only here, in memory, until logout,
C_Finalize or the close of the token's last session.
"""
from __future__ import annotations

from ..config import Config
from ..pkcs11.constants import CKR, CKU, TokenFlag
from ..pkcs11.errors import CKRError
from ..storage.base import Store, TokenRecord


class LoginState:
    """The application's login on one token, shared by all its sessions (v2.40 §5.6)."""

    __slots__ = ("user", "master_key")

    def __init__(self, user: CKU | None = None, master_key: bytes | None = None) -> None:
        self.user = user
        self.master_key = master_key

    def clear(self) -> None:
        self.user = None
        self.master_key = None


def check_pin_length(config: Config, pin: bytes) -> None:
    """New PINs outside the configured length range -> CKR_PIN_LEN_RANGE."""
    if not config.pin_min_len <= len(pin) <= config.pin_max_len:
        raise CKRError(CKR.PIN_LEN_RANGE, f"PIN length must be {config.pin_min_len}..{config.pin_max_len}")


def authenticate(store: Store, config: Config, record: TokenRecord, user: CKU, pin: bytes) -> bytes:
    """Check ``pin`` for ``user`` (SO or USER) and return the token's master key.

    Counts failures persistently: once ``pin_max_tries`` consecutive wrong PINs are
    recorded the PIN is locked (CKR_PIN_LOCKED) until the SO re-initialises the user PIN
    (or, for the SO PIN, forever: the token must be deleted).
    """
    failures = record.so_failures if user == CKU.SO else record.user_failures
    if failures >= config.pin_max_tries:
        raise CKRError(CKR.PIN_LOCKED)
    master_key = store.unwrap_master_key(record.token_id, user, pin)
    if master_key is None:
        store.record_pin_failure(record.token_id, user)
        raise CKRError(CKR.PIN_INCORRECT)
    if failures:
        store.reset_pin_failures(record.token_id, user)
    return master_key


def pin_flags(config: Config, record: TokenRecord) -> int:
    """CKF_*_PIN_COUNT_LOW / FINAL_TRY / LOCKED from the persisted counters."""
    flags = 0
    for failures, low, final, locked in (
        (record.user_failures, TokenFlag.USER_PIN_COUNT_LOW, TokenFlag.USER_PIN_FINAL_TRY,
         TokenFlag.USER_PIN_LOCKED),
        (record.so_failures, TokenFlag.SO_PIN_COUNT_LOW, TokenFlag.SO_PIN_FINAL_TRY,
         TokenFlag.SO_PIN_LOCKED),
    ):
        if failures >= config.pin_max_tries:
            flags |= locked
        elif failures == config.pin_max_tries - 1:
            flags |= final | low
        elif failures > 0:
            flags |= low
    return flags
