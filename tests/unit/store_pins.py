"""A PIN check through the store's real path, for the store tests.

The store has no call that checks a PIN outside the retry limit: like the core
(token/login), a test spends an attempt, opens the wrap and settles the attempt."""
from __future__ import annotations

from strongroom.pkcs11.constants import CKU
from strongroom.storage.base import Store

MAX_TRIES = 10


def check_pin(store: Store, token_id: int, user_type: CKU, pin: bytes,
              max_tries: int = MAX_TRIES) -> bytearray | None:
    """The master key if ``pin`` is right for ``user_type``, else None (that try stays counted)."""
    attempt = store.spend_pin_attempt(token_id, user_type, max_tries)
    master_key = store.open_master_key(attempt, user_type, pin)
    store.settle_pin_attempt(token_id, user_type, attempt, right=master_key is not None)
    return master_key
