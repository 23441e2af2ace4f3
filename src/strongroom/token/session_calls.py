"""Sessions and login (v2.40 §5.6 / v3.0 §5.5-§5.6): open, close, information, C_Login,
C_Logout, C_InitPIN, C_SetPIN.

The login belongs to the application, not the session: every session of the
application on a token shares it, and closing the last of them logs out.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR, CKU, SessionFlag
from ..pkcs11.errors import CKRError
from ..storage.base import TokenRecord
from ..wipe import zero
from .login import LoginState, authenticate, check_pin_length
from .sessions import Session
from .types import SessionInfo

if TYPE_CHECKING:
    from .application import Application

_SERIAL_SESSION = int(SessionFlag.SERIAL_SESSION)
_RW_SESSION = int(SessionFlag.RW_SESSION)


class SessionCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    def open_session(self, slot_id: int, flags: int) -> int:
        app = self._app
        core = app.core
        flags = int(flags)                 # IntFlag & runs in Python: use plain ints
        if not flags & _SERIAL_SESSION:
            raise CKRError(CKR.SESSION_PARALLEL_NOT_SUPPORTED)
        with app.lock:
            record = app.slots.initialised_token_in(slot_id)
            rw = bool(flags & _RW_SESSION)
            if not rw and app.user_on(record.token_id) == CKU.SO:
                raise CKRError(CKR.SESSION_READ_WRITE_SO_EXISTS)
            limit = core.config.max_sessions
            if limit and len(app.session_table) >= limit:
                raise CKRError(CKR.SESSION_COUNT)
            handle = core.next_session_handle()
            app.session_table[handle] = Session(handle, slot_id, record.token_id, rw)
            return handle

    def close_session(self, handle: int) -> None:
        app = self._app
        with app.lock:
            app.end_session(app.session(handle))

    def close_all_sessions(self, slot_id: int) -> None:
        app = self._app
        with app.lock:
            app.slots.token_in(slot_id)
            for session in [s for s in app.session_table.values() if s.slot_id == slot_id]:
                app.end_session(session)

    def get_session_info(self, handle: int) -> SessionInfo:
        app = self._app
        session = app.session(handle)
        flags = SessionFlag.SERIAL_SESSION | (SessionFlag.RW_SESSION if session.rw else 0)
        state = session.state(app.user_on(session.token_id))
        return SessionInfo(session.slot_id, int(state), int(flags))

    # --- login --------------------------------------------------------------------------
    def login(self, handle: int, user_type: int, pin: bytes | bytearray | None) -> None:
        app = self._app
        session = app.session(handle)
        core = app.core
        if pin is None:
            raise CKRError(CKR.ARGUMENTS_BAD, "no protected authentication path: a PIN is required")
        if user_type not in (CKU.SO, CKU.USER, CKU.CONTEXT_SPECIFIC):
            raise CKRError(CKR.USER_TYPE_INVALID)
        with app.lock:
            state = app.login_state(session.token_id)
            record = core.store.get_token(session.token_id)
            if user_type == CKU.CONTEXT_SPECIFIC:
                self._context_login(session, state, record, pin)
                return
            if state.user is not None:
                raise CKRError(CKR.USER_ALREADY_LOGGED_IN if state.user == user_type
                               else CKR.USER_ANOTHER_ALREADY_LOGGED_IN)
            if user_type == CKU.SO and any(not s.rw for s in app.session_table.values()
                                           if s.token_id == session.token_id):
                raise CKRError(CKR.SESSION_READ_ONLY_EXISTS)
            if user_type == CKU.USER and not record.user_pin_initialized:
                raise CKRError(CKR.USER_PIN_NOT_INITIALIZED)
            master_key = authenticate(core.store, core.config, record, CKU(user_type), pin, core.unlock_cache)
            state.user = CKU(user_type)
            state.master_key = master_key
            if user_type == CKU.USER:
                core.manager.forget_token_objects()   # private objects become visible

    def _context_login(self, session: Session, state: LoginState, record: TokenRecord,
                       pin: bytes | bytearray) -> None:
        """CKU_CONTEXT_SPECIFIC re-authenticates the user for the one active operation that
        uses a CKA_ALWAYS_AUTHENTICATE key (v2.40 §5.6 C_Login)."""
        waiting = [a for a in session.ops.values() if a.needs_context_login]
        if not waiting:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
        if state.user != CKU.USER:
            raise CKRError(CKR.USER_NOT_LOGGED_IN)
        core = self._app.core
        zero(authenticate(core.store, core.config, record, CKU.USER, pin, core.unlock_cache))
        for active in waiting:
            active.needs_context_login = False

    def logout(self, handle: int) -> None:
        app = self._app
        session = app.session(handle)
        with app.lock:
            state = app.login_state(session.token_id)
            if state.user is None:
                raise CKRError(CKR.USER_NOT_LOGGED_IN)
            app.log_out(session.token_id, state)

    def init_pin(self, handle: int, pin: bytes | bytearray) -> None:
        app = self._app
        session = app.session(handle)
        core = app.core
        with app.lock:
            state = app.login_state(session.token_id)
            if not session.rw:
                raise CKRError(CKR.SESSION_READ_ONLY)
            if state.user != CKU.SO or state.master_key is None:
                raise CKRError(CKR.USER_NOT_LOGGED_IN, "C_InitPIN needs the SO logged in")
            check_pin_length(core.config, pin)
            core.store.set_pin(session.token_id, CKU.USER, state.master_key, pin, core.kdf())

    def set_pin(self, handle: int, old: bytes | bytearray, new: bytes | bytearray) -> None:
        """Changes the PIN of the logged-in user, or the user PIN when nobody is logged in."""
        app = self._app
        session = app.session(handle)
        core = app.core
        with app.lock:
            if not session.rw:
                raise CKRError(CKR.SESSION_READ_ONLY)
            state = app.login_state(session.token_id)
            who = state.user if state.user is not None else CKU.USER   # CKU.SO is 0: falsy
            record = core.store.get_token(session.token_id)
            if who == CKU.USER and not record.user_pin_initialized:
                raise CKRError(CKR.USER_PIN_NOT_INITIALIZED)
            master_key = authenticate(core.store, core.config, record, who, old, core.unlock_cache)
            try:
                check_pin_length(core.config, new)
                core.store.set_pin(session.token_id, who, master_key, new, core.kdf())
            finally:
                if master_key is not state.master_key:
                    zero(master_key)   # this call's own copy (issue 10)
