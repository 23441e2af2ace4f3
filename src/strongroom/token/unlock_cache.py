"""The token service's in-memory PIN verifier: a login of a token this process has
already unlocked with the same PIN is checked in microseconds instead of by scrypt.

Why it is safe (docs/service.md "Fast re-login"): the online attacker -- someone who can
call C_Login -- is bounded by the retry limit, which is counted in the store before every
check exactly as on the scrypt path (token/login.py ``authenticate``); the offline
attacker -- someone with the store files -- still faces scrypt, because nothing of this
cache is ever written anywhere. What the cache holds per (token, user type, wrap) is the
master key sealed with AES-256-GCM under ``HMAC-SHA256(pepper, salt ‖ PIN)``, where the
pepper is 32 random bytes drawn when the process starts: a different PIN fails the GCM
tag, so the check needs no stored PIN, hash of a PIN or plain master key. An entry is
keyed by the wrap it was opened from, so C_SetPIN / C_InitPIN / C_InitToken (a new wrap)
make it unreachable at once; it is dropped at the next lookup.

Who can read the service's memory (root, the service user with a debugger) can try PINs
against an entry at HMAC speed: that attacker holds the process, and the logged-in
master keys with it, anyway. The in-process module never uses this cache: there the
memory belongs to the application, which must not keep anything after C_Logout.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading

from .._records import TYPE_CHECKING
from ..wipe import zero

if TYPE_CHECKING:
    from ..storage.base import PinAttempt

__all__ = ["UnlockCache"]

_NONCE = 12
_MAX_ENTRIES = 4096           # a bound on memory: tokens times user types of one service


class UnlockCache:
    def __init__(self) -> None:
        self._pepper = bytearray(os.urandom(32))
        self._entries: dict[tuple[bytes, int, bytes], bytes] = {}
        self._lock = threading.Lock()

    def _key(self, attempt: PinAttempt, pin: bytes | bytearray) -> bytearray:
        mac = hmac.new(self._pepper, attempt.salt, hashlib.sha256)
        mac.update(pin)
        return bytearray(mac.digest())

    @staticmethod
    def _slot(attempt: PinAttempt, user: int) -> tuple[bytes, int, bytes]:
        return attempt.token_uuid, user, attempt.wrap

    def knows(self, attempt: PinAttempt, user: int) -> bool:
        """An entry exists for this very wrap: its answer replaces scrypt's."""
        with self._lock:
            return self._slot(attempt, user) in self._entries

    def open(self, attempt: PinAttempt, user: int, pin: bytes | bytearray) -> bytearray | None:
        """The master key, or None for a PIN other than the one the entry was made with."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        with self._lock:
            sealed = self._entries.get(self._slot(attempt, user))
        if sealed is None:
            return None
        key = self._key(attempt, pin)
        out = bytearray(len(sealed) - _NONCE - 16)
        try:
            AESGCM(key).decrypt_into(sealed[:_NONCE], sealed[_NONCE:], attempt.token_uuid, out)
        except InvalidTag:
            zero(out)
            return None
        finally:
            zero(key)
        return out

    def remember(self, attempt: PinAttempt, user: int, pin: bytes | bytearray, master_key: bytearray) -> None:
        """After scrypt accepted ``pin``: keep the sealed master key for the next login."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._key(attempt, pin)
        try:
            nonce = os.urandom(_NONCE)
            sealed = nonce + AESGCM(key).encrypt(nonce, bytes(master_key), attempt.token_uuid)
        finally:
            zero(key)
        with self._lock:
            stale = [k for k in self._entries if k[:2] == (attempt.token_uuid, user)]
            for k in stale:                   # an older wrap of the same token and user
                del self._entries[k]
            if len(self._entries) < _MAX_ENTRIES:
                self._entries[self._slot(attempt, user)] = sealed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        zero(self._pepper)
