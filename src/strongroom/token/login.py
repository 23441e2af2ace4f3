"""PIN policy and the application's login state on each token.

The failure counters live in the store (so lockout survives restarts and is shared by
every process); the unlocked master key lives only here, in memory, until logout,
C_Finalize or the close of the token's last session.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..config import Config
from ..pkcs11.constants import CKR, CKU, TokenFlag
from ..pkcs11.errors import CKRError
from ..storage.base import Store, TokenRecord
from ..wipe import zero

if TYPE_CHECKING:   # the service's cache: never imported in-process
    from .unlock_cache import UnlockCache


class LoginState:
    """The application's login on one token, shared by all its sessions (v2.40 §5.6)."""

    __slots__ = ("master_key", "user")

    def __init__(self, user: CKU | None = None, master_key: bytearray | None = None) -> None:
        self.user = user
        self.master_key = master_key     # a bytearray (storage/kdf.py), zeroed by clear()

    def clear(self) -> None:
        """Logged out: the master key is overwritten in place, not just dropped (issue 10)."""
        self.user = None
        zero(self.master_key)
        self.master_key = None


def check_pin_length(config: Config, pin: bytes | bytearray) -> None:
    """New PINs outside the configured length range -> CKR_PIN_LEN_RANGE."""
    if not config.pin_min_len <= len(pin) <= config.pin_max_len:
        raise CKRError(CKR.PIN_LEN_RANGE, f"PIN length must be {config.pin_min_len}..{config.pin_max_len}")


def authenticate(store: Store, config: Config, record: TokenRecord, user: CKU,
                 pin: bytes | bytearray, cache: UnlockCache | None = None) -> bytearray:
    """Check ``pin`` for ``user`` (SO or USER) and return the token's master key.

    The attempt is paid for first: ``spend_pin_attempt`` counts it as a failure in a
    committed (fsynced) write before scrypt runs, and only a right PIN gives it back
    (counter to 0). So a caller killed at any instant, even the moment it could tell the
    answer, has used its try, and N callers at once get at most the tries that were left.
    A wrong PIN settles with the same write as a right one, so the store files look the
    same until the answer is returned. Anything that stops the check half way (an
    exception in the KDF) leaves the try spent.

    Lockout (v2.40 §5.1 CKR_PIN_LOCKED; §3.2 CK_TOKEN_INFO CKF_USER_PIN_FINAL_TRY "True if
    supplying an incorrect user PIN will cause it to become locked"): the wrong PIN that
    uses the last try is answered CKR_PIN_INCORRECT, every attempt after it
    CKR_PIN_LOCKED, until the SO sets a new user PIN (C_InitPIN) or, for the SO PIN, the
    owner of the store runs ``strongroom token reset``.

    ``cache`` (the token service's UnlockCache, token/unlock_cache.py): when it has an
    entry for this very wrap, its answer replaces scrypt's -- after the same spend.
    """
    attempt = store.spend_pin_attempt(record.token_id, user, config.pin_max_tries)
    master_key = None
    try:
        if cache is not None and cache.knows(attempt, user):
            master_key = cache.open(attempt, user, pin)
        else:
            master_key = store.open_master_key(attempt, user, pin)
            if master_key is not None and cache is not None:
                cache.remember(attempt, user, pin, master_key)
    finally:
        try:
            store.settle_pin_attempt(record.token_id, user, attempt, right=master_key is not None)
        except BaseException:
            zero(master_key)      # the token was deleted or re-initialised meanwhile
            raise
    if master_key is None:
        raise CKRError(CKR.PIN_INCORRECT)
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
