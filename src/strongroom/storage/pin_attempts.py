"""The PIN rows of the tokens table: spending, settling and re-wrapping, in SQL.

Why apart from sqlite.py: this is the part that enforces the retry limit (issue 10,
item 1), so it reads as one piece: an attempt is counted as failed, durably, before
scrypt runs (``try_spend``), and given back only by a right PIN (``settle``). Each
function runs inside a transaction the store opened (``SqliteStore._tx``); none runs
the KDF, which always happens outside any transaction.
"""
from __future__ import annotations

import sqlite3
import time

from ..pkcs11.constants import CKR, CKU
from ..pkcs11.errors import CKRError
from .base import KdfParams, PinAttempt

# How long a caller that finds no PIN try left waits for attempts still being checked
# (pending) before it answers CKR_PIN_LOCKED: a few KDF times at the default cost.
PIN_WAIT_S = 5.0
PIN_POLL_S = 0.02

# Column names per user type: fixed strings, never built from input.
_WRAP_COLS = {
    CKU.SO: ("so_wrap", "so_salt", "so_log2_n", "so_r", "so_p"),
    CKU.USER: ("user_wrap", "user_salt", "user_log2_n", "user_r", "user_p"),
}
# The attempt bookkeeping per user type (migrations.py, version 2).
_ATTEMPT_COLS = {
    CKU.SO: ("so_failures", "so_pending", "so_spent_at"),
    CKU.USER: ("user_failures", "user_pending", "user_spent_at"),
}


def user_of(user_type: int) -> CKU:
    """SO or USER; CONTEXT_SPECIFIC re-authenticates the user, so it uses the user PIN."""
    if user_type == CKU.CONTEXT_SPECIFIC:
        return CKU.USER
    if user_type not in (CKU.SO, CKU.USER):
        raise CKRError(CKR.USER_TYPE_INVALID)
    return CKU(user_type)


def pin_wait_s(kdf: KdfParams) -> float:
    """PIN_WAIT_S, scaled with the wrap's scrypt cost above the default (2**15)."""
    return float(min(PIN_WAIT_S * 2 ** max(0, kdf.log2_n - 15), 120.0))


def try_spend(conn: sqlite3.Connection, token_id: int, user: CKU,
              max_tries: int) -> tuple[PinAttempt | None, float]:
    """(the spent attempt, 0) or (None, seconds worth waiting for attempts in flight).

    Runs in a write transaction: BEGIN IMMEDIATE takes the write lock before the counter
    is read, so concurrent spenders are serialised and each sees the others' spends;
    COMMIT under synchronous=FULL makes the spend durable before scrypt runs."""
    fail_c, pend_c, at_c = _ATTEMPT_COLS[user]
    row = conn.execute(f"SELECT uuid, {', '.join(_WRAP_COLS[user])}, {fail_c}, {pend_c}, {at_c} "
                       "FROM tokens WHERE id = ?", (token_id,)).fetchone()
    if row is None:
        raise CKRError(CKR.TOKEN_NOT_PRESENT)
    uuid, wrap, salt, log2_n, r, p, failures, pending, spent_at = row
    if wrap is None:
        raise CKRError(CKR.USER_PIN_NOT_INITIALIZED)
    kdf = KdfParams(log2_n, r, p)
    if failures >= max_tries:
        # v2.40 §5.1: CKR_PIN_LOCKED "because some particular number of failed
        # authentication attempts has been reached". Attempts still in flight
        # may yet prove right and give their tries back: worth a bounded wait.
        recent = pending > 0 and 0 <= time.time() - spent_at < pin_wait_s(kdf)
        if not recent:
            raise CKRError(CKR.PIN_LOCKED)
        return None, pin_wait_s(kdf)
    conn.execute(f"UPDATE tokens SET {fail_c} = {fail_c} + 1, {pend_c} = {pend_c} + 1, "
                 f"{at_c} = ? WHERE id = ?", (time.time(), token_id))
    return PinAttempt(bytes(uuid), bytes(wrap), bytes(salt), kdf), 0.0


def settle(conn: sqlite3.Connection, token_id: int, user: CKU, attempt: PinAttempt, right: bool) -> None:
    """End an attempt (in a write transaction): ``right`` resets the counter."""
    fail_c, pend_c, _ = _ATTEMPT_COLS[user]
    # Same statement either way, one row of one page rewritten: the pending count
    # always changes, so a wrong PIN dirties the page exactly as a right one does
    # (SQLite skips the write of a row whose bytes did not change).
    cur = conn.execute(
        f"UPDATE tokens SET {fail_c} = CASE WHEN ? THEN 0 ELSE {fail_c} END, "
        f"{pend_c} = max({pend_c} - 1, 0) WHERE id = ? AND uuid = ?",
        (int(right), token_id, attempt.token_uuid))
    if cur.rowcount == 0:   # deleted or re-initialised while scrypt ran
        raise CKRError(CKR.TOKEN_NOT_PRESENT)


def store_wrap(conn: sqlite3.Connection, token_id: int, user: CKU, token_uuid: bytes,
               salt: bytes, wrap: bytes, kdf: KdfParams) -> None:
    """Replace ``user``'s wrap (in a write transaction that scrubs the old one); resets
    that counter. TOKEN_NOT_PRESENT if the token was deleted or re-initialised since
    ``token_uuid`` was read (scrypt ran in between)."""
    wrap_c, salt_c, n_c, r_c, p_c = _WRAP_COLS[user]
    fail_c = _ATTEMPT_COLS[user][0]
    cur = conn.execute(
        f"UPDATE tokens SET {wrap_c} = ?, {salt_c} = ?, {n_c} = ?, {r_c} = ?, {p_c} = ?, "
        f"{fail_c} = 0 WHERE id = ? AND uuid = ?",
        (wrap, salt, kdf.log2_n, kdf.r, kdf.p, token_id, token_uuid))
    if cur.rowcount == 0:
        raise CKRError(CKR.TOKEN_NOT_PRESENT)
