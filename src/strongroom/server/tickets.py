"""Application tickets: how one client application's several connections serve one
PKCS#11 application.

strongroom's client opens more than one connection when several of the host's threads
call at once, so that their calls run side by side (docs/service.md "Threads of one
application"). PKCS#11 state belongs to the application, not to a session or a
connection -- the login (v2.40 §6.7.4), object handles and session objects are shared by
all its sessions -- so every connection of the pool must reach the same Application
object. The first connection asks for a ticket (SR_ApplicationTicket: 32 random bytes T);
each further connection presents T as its first call (SR_JoinApplication) and from then
on serves that application.

The registry keeps, per ticket, ``SHA-256(T)`` -> the application, the uid that asked,
and how many connections serve it. A ticket is accepted only from a peer with the same
uid (SO_PEERCRED), and only while the application lives: C_Finalize on any of its
connections ends it for all, and when its last connection closes it is finalised like
any other. T itself is kept nowhere in the service.
"""
from __future__ import annotations

import hashlib
import os
import threading

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError

if TYPE_CHECKING:
    from ..token.application import Application

__all__ = ["TICKET_LEN", "Registry"]

TICKET_LEN = 32
_MAX = 65536


class _Entry:
    __slots__ = ("app", "connections", "digest", "uid")

    def __init__(self, app: Application, uid: int) -> None:
        self.app, self.uid, self.connections = app, uid, 1
        self.digest: bytes | None = None


class Registry:
    """The ticketed applications of this process."""

    def __init__(self) -> None:
        self._by_digest: dict[bytes, _Entry] = {}
        self._by_app: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def ticket(self, app: Application, uid: int) -> bytes:
        """A fresh ticket for ``app``; it replaces the one asked for before."""
        ticket = os.urandom(TICKET_LEN)
        digest = hashlib.sha256(ticket).digest()
        with self._lock:
            entry = self._by_app.get(id(app))
            if entry is None:
                if len(self._by_app) >= _MAX:
                    raise CKRError(CKR.DEVICE_MEMORY, "too many ticketed applications")
                entry = self._by_app[id(app)] = _Entry(app, uid)
            if entry.digest is not None:
                self._by_digest.pop(entry.digest, None)
            entry.digest = digest
            self._by_digest[digest] = entry
        return ticket

    def join(self, ticket: bytes, uid: int) -> Application:
        """The application a ticket names, now served by one more connection."""
        digest = hashlib.sha256(ticket).digest()
        with self._lock:
            entry = self._by_digest.get(digest)
            if entry is None or entry.uid != uid:
                raise CKRError(CKR.FUNCTION_REJECTED, "no such application for this peer")
            entry.connections += 1
            return entry.app

    def leave(self, app: Application) -> bool:
        """A connection of ``app`` closed: True when it was the last (finalise the app)."""
        with self._lock:
            entry = self._by_app.get(id(app))
            if entry is None:
                return True                      # never ticketed: its only connection
            entry.connections -= 1
            if entry.connections > 0:
                return False
            del self._by_app[id(app)]
            if entry.digest is not None:
                self._by_digest.pop(entry.digest, None)
            return True

    def forget(self, app: Application) -> None:
        """``app`` was finalised (C_Finalize on one of its connections): no more joins."""
        with self._lock:
            entry = self._by_app.get(id(app))
            if entry is not None and entry.digest is not None:
                self._by_digest.pop(entry.digest, None)
                entry.digest = None
