"""What every application of one process shares: the config, the store, the object caches.

The in-process module has one application over one core; the token service has one core
and an application per client connection. The core knows its applications so that what
concerns a token as a whole -- re-initialising or deleting it while another application
has a session on it, an operation on a key another application destroyed -- is decided
across all of them.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

from .._records import TYPE_CHECKING
from ..config import Config
from ..storage.base import KdfParams, Quota, Store
from .objects import ObjectManager
from .operations import revoke_key

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Protocol

    from .sessions import Session
    from .unlock_cache import UnlockCache
else:
    Protocol = object   # SessionOwner is a structural type for checkers only

#: Set by the C library (abi/): given the database path, returns a cheap
#: ``data_version`` reader (or None). Without it (core used in-process from Python) the
#: store asks its own connection.
version_probe_factory: Callable[[str], Callable[[], int] | None] | None = None


def open_store(config: Config) -> Store:
    from ..storage.sqlite import SqliteStore  # deferred: cold start pays for it at first use

    os.makedirs(config.home, mode=0o700, exist_ok=True)
    path = os.fspath(config.database)
    if version_probe_factory is not None:
        probe = version_probe_factory(path)
    else:                           # the core used from Python (the token service)
        from ..storage.shm_probe import make_probe

        probe = make_probe(path)
    return SqliteStore(path, Quota(config.quota_objects, config.quota_bytes), version_probe=probe)


class SessionOwner(Protocol):
    """What the core asks of an application (token/application.py implements it)."""

    def all_sessions(self) -> Iterator[Session]: ...

    def has_login(self) -> bool: ...


class TokenCore:
    """One store and its caches, shared by the applications attached to it."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.manager = ObjectManager(store)
        self._applications: list[SessionOwner] = []
        self._session_ids = itertools.count(1)   # session handles: unique in the core
        #: the token service's in-memory PIN verifier (token/unlock_cache.py); None
        #: in-process, where memory is the application's
        self.unlock_cache: UnlockCache | None = None

    @classmethod
    def open(cls, config: Config) -> TokenCore:
        return cls(config, open_store(config))

    def kdf(self) -> KdfParams:
        return KdfParams(log2_n=self.config.kdf_log2_n)

    def next_session_handle(self) -> int:
        """Session handles are unique across the core's applications (a session object's
        owner names its session without saying which application)."""
        return next(self._session_ids)

    # --- applications ------------------------------------------------------------------
    def attach(self, app: SessionOwner) -> None:
        self._applications.append(app)

    def detach(self, app: SessionOwner) -> None:
        if app in self._applications:
            self._applications.remove(app)

    def sessions(self) -> Iterator[Session]:
        """Every session of every attached application."""
        for app in list(self._applications):
            yield from app.all_sessions()

    def has_sessions_on(self, token_id: int) -> bool:
        return any(s.token_id == token_id for s in self.sessions())

    def revoke_key(self, target: int) -> None:
        """An object was destroyed: operations of every application using it fail at their
        next call (operations.KeyDestroyed)."""
        revoke_key(list(self.sessions()), target)

    def release_keys(self, leaving: SessionOwner) -> None:
        """Wipe the store's derived sealing keys when ``leaving`` logs out, unless another
        application still holds a login: the cache is per store, not per application, and
        those applications would only derive them again (two HKDF runs per token). They
        are wiped at the last logout and at close."""
        if not any(app is not leaving and app.has_login() for app in self._applications):
            self.store.forget_keys()

    def close(self) -> None:
        if self.unlock_cache is not None:
            self.unlock_cache.clear()
        self.manager.clear()
        self.store.close()
