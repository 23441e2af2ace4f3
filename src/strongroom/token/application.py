"""One PKCS#11 application: what one C_Initialize'd caller owns (v2.40 §6.7.1 / v3.0 §5.1).

Its sessions, its login state on each token (shared by all its sessions, §5.6), its
object handles (token/handles.py) and its session objects. The in-process module has one
application (token/inprocess.py); the token service will have one per client
connection, all over one :class:`~.core.TokenCore`.

The C functions are methods of the chapter objects, each its own module:
``slots`` (token/slots.py), ``sessions`` (session_calls.py), ``objects``
(object_calls.py), ``crypto`` (crypto_calls.py: encrypt, decrypt, digest),
``signatures`` (sign_calls.py: sign, verify, recover), ``keys`` (key_calls.py) and
``messages`` (message_calls.py); C_Initialize, C_Finalize, C_GetInfo and the random
functions are the application's own. Every chapter reaches the application's state
through the public helpers below, never through another chapter.

Locking: one re-entrant lock guards the session table, the login state and the handle
table; each session has its own lock for its operations, so different sessions work in
parallel (as far as the GIL lets them).
"""
from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator

from .. import __version__
from .._records import TYPE_CHECKING
from ..config import Config, load_config, setup_logging
from ..mechanisms import random as rng
from ..pkcs11.constants import CKA, CKR, CKU
from ..pkcs11.errors import CKRError
from . import access
from .core import TokenCore
from .crypto_calls import CryptoCalls
from .handles import HandleTable
from .key_calls import KeyCalls
from .login import LoginState
from .message_calls import MessageCalls
from .object_calls import ObjectCalls
from .objects import ObjectManager, ObjectRef, Visibility
from .operation_steps import OperationSteps
from .session_calls import SessionCalls
from .sessions import Session
from .sign_calls import SignatureCalls
from .slots import MANUFACTURER, SlotCalls
from .types import InitArgs, LibraryInfo

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

VERSION = tuple(int(x) for x in __version__.split(".")[:2])
_LIBRARY_INFO = LibraryInfo((3, 0), MANUFACTURER, 0, "strongroom PKCS#11 token", (VERSION[0], VERSION[1]))
_app_ids = itertools.count(1)
_abandoned: list[Any] = []   # cores inherited across fork: never touched, never closed


class Application:
    """``shared``: a core other applications use too (the token service's, one per
    process); C_Initialize attaches to it and C_Finalize detaches. Without it, as in the
    in-process module, C_Initialize opens a core from the config and C_Finalize closes it."""

    def __init__(self, shared: TokenCore | None = None) -> None:
        self._shared = shared
        self.lock = threading.RLock()
        self.id = next(_app_ids)
        self._core: TokenCore | None = None
        #: the config the last C_Initialize loaded, kept when opening its store failed, so
        #: the ABI's one-line error names the home (abi/entry_general._store_problem)
        self._loaded_config: Config | None = None
        self._pid = os.getpid()
        self.session_table: dict[int, Session] = {}
        self.logins: dict[int, LoginState] = {}
        self.handles = HandleTable()
        self.slots = SlotCalls(self)
        self.sessions = SessionCalls(self)
        self.objects = ObjectCalls(self)
        steps = OperationSteps(self)
        self.crypto = CryptoCalls(self, steps)
        self.signatures = SignatureCalls(self, steps)
        self.keys = KeyCalls(self)
        self.messages = MessageCalls(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    # --- C_Initialize / C_Finalize ----------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """A child must call C_Initialize again (v2.40 §6.7.7). Forget everything the parent
        had, without closing its SQLite connection (that belongs to the parent). The
        child's copies of the master keys and derived keys are zeroed (no lock is taken:
        only this thread survived the fork)."""
        for state in self.logins.values():
            state.clear()
        if self._core is not None:
            self._core.store.forget_keys_in_child()
            _abandoned.append(self._core)
        self.lock = threading.RLock()
        self._core = None
        self.session_table = {}
        self.logins = {}
        self.handles = HandleTable()
        self._pid = os.getpid()

    def initialize(self, args: InitArgs | None) -> None:
        if os.getpid() != self._pid:
            self._after_fork_in_child()
        with self.lock:
            if self._core is not None:
                raise CKRError(CKR.CRYPTOKI_ALREADY_INITIALIZED)
            # Application mutex callbacks without CKF_OS_LOCKING_OK (v2.40 §5.4 case 3) are
            # honoured by the C library (abi/shim.c SR_CALL): it holds one application mutex
            # around every call, so the core's own OS locks never see two such threads.
            if self._shared is not None:
                core = self._shared
            else:
                config = self._loaded_config = load_config()
                setup_logging(config)
                core = TokenCore.open(config)
            core.attach(self)
            self.session_table = {}
            self.logins = {}
            self._core = core

    def finalize(self) -> None:
        """C_Finalize: every session and login of this application ends; its session
        objects and cached secrets go (issue 10). Other applications of a shared core
        are not affected."""
        with self.lock:
            core = self.core
            for token_id, state in list(self.logins.items()):
                if state.user is not None:
                    self.log_out(token_id, state)
            self.logins.clear()
            for session in list(self.session_table.values()):
                core.manager.drop_session(session.handle)
            self.session_table.clear()
            self.handles.clear()
            self._core = None
            core.detach(self)
            if core is not self._shared:
                core.close()

    def get_info(self) -> LibraryInfo:
        self.core  # noqa: B018 -- CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize
        return _LIBRARY_INFO            # constant and immutable: no allocation per call

    # --- random numbers (v3.0 §5.17) ---------------------------------------------------
    def seed_random(self, h: int, seed: bytes) -> None:
        self.session(h)
        rng.seed_random(seed)

    def generate_random(self, h: int, length: int) -> bytes:
        self.session(h)
        return rng.generate_random(length)

    # --- what the chapters share -------------------------------------------------------
    @property
    def core(self) -> TokenCore:
        core = self._core
        if core is None:
            raise CKRError(CKR.CRYPTOKI_NOT_INITIALIZED)
        return core

    @property
    def config(self) -> Config | None:
        """The running core's config; else the one the last C_Initialize loaded (None before)."""
        core = self._core
        return core.config if core is not None else self._loaded_config

    @property
    def manager(self) -> ObjectManager:
        return self.core.manager

    def all_sessions(self) -> Iterator[Session]:
        return iter(list(self.session_table.values()))

    def has_login(self) -> bool:
        return any(state.user is not None for state in self.logins.values())

    def session(self, handle: int) -> Session:
        """The application's session ``handle``; CKR_SESSION_HANDLE_INVALID otherwise (a
        handle of another application included)."""
        if self._core is None:
            raise CKRError(CKR.CRYPTOKI_NOT_INITIALIZED)
        try:
            return self.session_table[handle]
        except KeyError:
            raise CKRError(CKR.SESSION_HANDLE_INVALID) from None

    def login_state(self, token_id: int) -> LoginState:
        state = self.logins.get(token_id)
        if state is None:
            state = self.logins[token_id] = LoginState()
        return state

    def user_on(self, token_id: int) -> CKU | None:
        state = self.logins.get(token_id)
        return state.user if state is not None else None

    def visibility(self, session: Session) -> Visibility:
        state = self.logins.get(session.token_id)
        mk = state.master_key if state is not None and state.user == CKU.USER else None
        return Visibility(session.token_id, mk, self.id)

    def require_write(self, session: Session, attrs: dict[int, Any]) -> None:
        """A new or changed object's attributes against the access table (token/access.py)."""
        state = session.state(self.user_on(session.token_id))
        access.require_write(state, bool(attrs.get(CKA.TOKEN)), bool(attrs.get(CKA.PRIVATE)))

    def resolve(self, session: Session, handle: int) -> ObjectRef:
        """The object behind the application's ``handle`` as ``session`` sees it;
        CKR_OBJECT_HANDLE_INVALID if there is none or the session may not see it."""
        return self.core.manager.get(self.handles.target(handle), self.visibility(session))

    def resolve_key(self, session: Session, handle: int) -> ObjectRef:
        """As :meth:`resolve`, for a key argument (CKR_KEY_HANDLE_INVALID)."""
        try:
            return self.resolve(session, handle)
        except CKRError as exc:
            if exc.rv == CKR.OBJECT_HANDLE_INVALID:
                raise CKRError(CKR.KEY_HANDLE_INVALID) from None
            raise

    def add_object(self, session: Session, attrs: dict[int, Any]) -> int:
        """Store a new object (checked with :meth:`require_write` before); its handle."""
        target = self.core.manager.add(attrs, self.visibility(session), session.handle)
        with self.lock:
            return self.handles.issue(target)

    def handles_for(self, targets: list[int]) -> list[int]:
        with self.lock:
            issue = self.handles.issue
            return [issue(t) for t in targets]

    def end_session(self, session: Session) -> None:
        """Close ``session`` (lock held): its operations and session objects go; closing
        the application's last session on a token logs it out (v2.40 §5.6)."""
        del self.session_table[session.handle]
        session.ops.clear()
        core = self.core
        self.handles.drop(core.manager.drop_session(session.handle))
        if not any(s.token_id == session.token_id for s in self.session_table.values()):
            state = self.logins.pop(session.token_id, None)
            if state is not None and state.user is not None:
                self.log_out(session.token_id, state)

    def log_out(self, token_id: int, state: LoginState) -> None:
        """The user or SO leaves token ``token_id`` (lock held): operations (and the pyca
        keys they hold) first, then the derived keys, the master key and the cached
        objects, each zeroed as it goes (issue 10). Handles of private objects become
        invalid and are not reused (token/handles.py)."""
        for s in self.session_table.values():
            if s.token_id == token_id:
                s.ops.clear()
        core = self.core
        private = core.manager.private_token_objects(token_id, self.handles.targets()) \
            if state.user == CKU.USER else []
        core.release_keys(self)
        state.clear()
        self.handles.drop(private)
        self.handles.drop(core.manager.forget_private(token_id, self.id))
