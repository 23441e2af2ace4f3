"""The process-wide Cryptoki library object: the one entry point of the token core.

Every public method mirrors one C_* function with Python values (docs/design.md) and
raises only CKRError. Locking: one re-entrant lock guards the session table and login
state; each session has its own lock for its operations so different sessions work in
parallel (as far as the GIL lets them).
"""
from __future__ import annotations

import itertools
import os
import threading
TYPE_CHECKING = False   # typing is not imported at run time: cold start (_records.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

from .. import __version__
from ..config import Config, load_config, setup_logging
from ..mechanisms import random as rng
from ..mechanisms import registry
from ..mechanisms.registry import OpKind
from ..pkcs11 import template as rules
from ..pkcs11.constants import (
    CK_EFFECTIVELY_INFINITE, CKA, CKK, CKO, CKR, CKU, MechanismFlag, SessionFlag,
    SlotFlag, TokenFlag,
)
from ..pkcs11.errors import CKRError
from ..storage.base import KdfParams, Quota, Store, TokenRecord
from ..wipe import zero
from . import operations
from .login import LoginState, authenticate, check_pin_length, pin_flags
from .objects import SESSION_HANDLE_BASE, ObjectManager, Visibility
from .sessions import ActiveOperation, OpSlot, Session
from .types import (
    InitArgs, LibraryInfo, Mechanism, MechanismInfo, SessionInfo, SlotInfo, TokenInfo,
    TokenRemoved, TokenUsage,
)



class _Deferred:
    """A module imported on first attribute access. C_Initialize / C_OpenSession /
    C_Login need none of these (they pull in pyca's key modules and the parameter
    tables), so the cold start does not pay for them (docs/performance.md)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        module = importlib.import_module(self._name, __package__)
        globals()[self._alias] = module          # later calls bind the module directly
        return getattr(module, attr)

    def alias(self, alias: str) -> "_Deferred":
        self._alias = alias
        return self


checkvalue = _Deferred("..mechanisms.checkvalue").alias("checkvalue")
key_rules = _Deferred("..mechanisms.keys").alias("key_rules")
keyops = _Deferred(".keyops").alias("keyops")

MANUFACTURER = "strongroom"
MODEL = "strongroom"
VERSION = tuple(int(x) for x in __version__.split(".")[:2])
_SERIAL_SESSION = int(SessionFlag.SERIAL_SESSION)
_RW_SESSION = int(SessionFlag.RW_SESSION)
_abandoned: list[Any] = []   # stores inherited across fork: never touched, never closed


#: Set by the C library (abi/entry.py): given the database path, returns a cheap
#: ``data_version`` reader (or None). Without it (core used in-process) the store asks
#: its own connection.
version_probe_factory: Callable[[str], Callable[[], int] | None] | None = None


def _open_store(config: Config) -> Store:
    from ..storage.sqlite import SqliteStore   # deferred: cold start pays for it at first use

    os.makedirs(config.home, mode=0o700, exist_ok=True)
    path = os.fspath(config.database)
    factory = version_probe_factory
    probe = factory(path) if factory is not None else None
    return SqliteStore(path, Quota(config.quota_objects, config.quota_bytes), version_probe=probe)


_LIBRARY_INFO = LibraryInfo((3, 0), MANUFACTURER, 0, "strongroom PKCS#11 token", VERSION)


class Library:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._initialized = False
        self._pid = os.getpid()
        self.config: Config | None = None
        self._store: Store | None = None
        self._objects: ObjectManager | None = None
        self._sessions: dict[int, Session] = {}
        self._session_ids = itertools.count(1)
        self._logins: dict[int, LoginState] = {}
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        # Chapter objects (docs: brief contract 0); until the split they are this object.
        self.slots = self.sessions = self.objects = self.crypto = self.keys = self.messages = self

    # --- lifecycle ------------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """A child must call C_Initialize again (v2.40 §6.7.7). Forget everything the parent
        had, without closing its SQLite connection (that belongs to the parent). The
        child's copies of the master keys and derived keys are zeroed (no lock is taken:
        only this thread survived the fork)."""
        for state in self._logins.values():
            state.clear()
        if self._store is not None:
            self._store.forget_keys_in_child()
        self._lock = threading.RLock()
        if self._store is not None:
            _abandoned.append(self._store)
        self._store = None
        self._objects = None
        self._sessions = {}
        self._logins = {}
        self._initialized = False
        self._pid = os.getpid()

    def initialize(self, args: InitArgs | None) -> None:
        if os.getpid() != self._pid:
            self._after_fork_in_child()
        with self._lock:
            if self._initialized:
                raise CKRError(CKR.CRYPTOKI_ALREADY_INITIALIZED)
            # Application mutex callbacks without CKF_OS_LOCKING_OK (v2.40 §5.4 case 3) are
            # honoured by the C library (abi/shim.c SR_CALL): it holds one application mutex
            # around every call, so the core's own OS locks never see two such threads.
            config = load_config()
            setup_logging(config)
            self.config = config
            self._store = _open_store(config)
            self._objects = ObjectManager(self._store)
            self._sessions = {}
            self._logins = {}
            self._initialized = True

    def finalize(self) -> None:
        with self._lock:
            self._require_init()
            self._initialized = False
            for state in self._logins.values():
                state.clear()
            self._logins.clear()
            self._sessions.clear()
            if self._objects is not None:
                self._objects.clear()
            if self._store is not None:
                self._store.close()
            self._store = None
            self._objects = None

    def _require_init(self) -> None:
        if not self._initialized:
            raise CKRError(CKR.CRYPTOKI_NOT_INITIALIZED)

    @property
    def store(self) -> Store:
        self._require_init()
        assert self._store is not None
        return self._store

    @property
    def manager(self) -> ObjectManager:
        self._require_init()
        assert self._objects is not None
        return self._objects

    def get_info(self) -> LibraryInfo:
        self._require_init()
        return _LIBRARY_INFO            # constant and immutable: no allocation per call

    # --- slots and tokens ---------------------------------------------------------------
    def _tokens(self) -> list[TokenRecord]:
        return self.store.list_tokens()

    @staticmethod
    def _free_slot(tokens: Iterable[TokenRecord]) -> int:
        """The one uninitialised slot: the smallest slot number no token uses."""
        used = {t.slot_id for t in tokens}
        return next(i for i in itertools.count() if i not in used)

    def _token_in(self, slot_id: int) -> TokenRecord | None:
        """The token in ``slot_id``; None for the free slot; SLOT_ID_INVALID otherwise."""
        tokens = self._tokens()
        for record in tokens:
            if record.slot_id == slot_id:
                return record
        if slot_id == self._free_slot(tokens):
            return None
        raise CKRError(CKR.SLOT_ID_INVALID)

    def get_slot_list(self, token_present: bool) -> list[int]:
        self._require_init()
        tokens = self._tokens()
        # Every slot always holds a token (initialised or blank), so token_present changes nothing.
        return sorted([t.slot_id for t in tokens] + [self._free_slot(tokens)])

    def get_slot_info(self, slot_id: int) -> SlotInfo:
        self._require_init()
        record = self._token_in(slot_id)
        desc = f"strongroom slot {slot_id}" + ("" if record else " (free)")
        return SlotInfo(desc, MANUFACTURER, int(SlotFlag.TOKEN_PRESENT), VERSION, VERSION)

    def get_token_info(self, slot_id: int) -> TokenInfo:
        self._require_init()
        record = self._token_in(slot_id)
        config = self.config
        assert config is not None
        sessions = [s for s in self._sessions.values() if s.slot_id == slot_id]
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
        self._require_init()
        self._token_in(slot_id)
        return sorted(registry.all_mechanisms())

    def get_mechanism_info(self, slot_id: int, mech: int) -> MechanismInfo:
        self._require_init()
        self._token_in(slot_id)
        entry = registry.get(mech)
        low = max(entry.min_key_size, self._generation_floor(entry))
        return MechanismInfo(low, entry.max_key_size, int(entry.flags))

    def _generation_floor(self, entry: registry.MechanismEntry) -> int:
        """The token's policy minimum for keys a generation mechanism makes (bits; 0: the
        mechanism's own range). Only RSA has one: below 2048 bits by default, lowered with
        ``rsa_min_generate_bits`` for client test suites that generate 1024-bit keys."""
        if entry.gen_key_type == CKK.RSA and entry.generate_pair is not None and self.config:
            return self.config.rsa_min_generate_bits
        return 0

    def _kdf(self) -> KdfParams:
        assert self.config is not None
        return KdfParams(log2_n=self.config.kdf_log2_n)

    def init_token(self, slot_id: int, so_pin: bytes, label: str) -> None:
        self._require_init()
        assert self.config is not None
        with self._lock:
            record = self._token_in(slot_id)
            if any(s.slot_id == slot_id for s in self._sessions.values()):
                raise CKRError(CKR.SESSION_EXISTS)
            label = label.rstrip(" ")
            if record is None:
                check_pin_length(self.config, so_pin)
                self.store.create_token(slot_id, label, so_pin, self._kdf())
                return
            # Re-initialisation needs the current SO PIN and wipes every object (v2.40 §5.5).
            zero(authenticate(self.store, self.config, record, CKU.SO, so_pin))
            self.store.reinit_token(record.token_id, label, so_pin, self._kdf())
            old_login = self._logins.pop(record.token_id, None)
            if old_login is not None:
                old_login.clear()
            self.manager.drop_token(record.token_id)

    def token_usage(self, slot_id: int) -> TokenUsage:
        """Store figures of the token in ``slot_id`` (vendor function SR_GetTokenUsage)."""
        self._require_init()
        assert self.config is not None
        record = self._token_in(slot_id)
        if record is None:
            raise CKRError(CKR.TOKEN_NOT_RECOGNIZED, "the token in this slot is not initialised")
        c = self.config
        return TokenUsage(record.object_count, record.bytes_used, c.quota_objects, c.quota_bytes,
                          record.user_failures, record.so_failures, c.pin_max_tries)

    def delete_token(self, slot_id: int) -> TokenRemoved:
        """Remove the token in ``slot_id`` and all its objects, without any PIN (vendor
        function SR_DeleteToken; ``strongroom token delete|reset``, which only the owner of
        the store runs). Its store rows are scrubbed from the files before this returns."""
        self._require_init()
        with self._lock:
            record = self._token_in(slot_id)
            if record is None:
                raise CKRError(CKR.TOKEN_NOT_RECOGNIZED, "the token in this slot is not initialised")
            if any(s.slot_id == slot_id for s in self._sessions.values()):
                raise CKRError(CKR.SESSION_EXISTS)
            self.store.delete_token(record.token_id)
            old_login = self._logins.pop(record.token_id, None)
            if old_login is not None:
                old_login.clear()
            self.manager.drop_token(record.token_id)
            return TokenRemoved(record.label, record.serial, record.slot_id, record.object_count)

    # --- sessions -----------------------------------------------------------------------------
    def _session(self, handle: int) -> Session:
        self._require_init()
        try:
            return self._sessions[handle]
        except KeyError:
            raise CKRError(CKR.SESSION_HANDLE_INVALID) from None

    def _login(self, token_id: int) -> LoginState:
        state = self._logins.get(token_id)
        if state is None:
            state = self._logins[token_id] = LoginState()
        return state

    def _visibility(self, session: Session) -> Visibility:
        state = self._logins.get(session.token_id)
        mk = state.master_key if state is not None and state.user == CKU.USER else None
        return Visibility(session.token_id, mk)

    def open_session(self, slot_id: int, flags: int) -> int:
        self._require_init()
        flags = int(flags)                 # IntFlag & runs in Python: use plain ints
        if not flags & _SERIAL_SESSION:
            raise CKRError(CKR.SESSION_PARALLEL_NOT_SUPPORTED)
        with self._lock:
            record = self._token_in(slot_id)
            if record is None:
                raise CKRError(CKR.TOKEN_NOT_RECOGNIZED, "the token in this slot is not initialised")
            rw = bool(flags & _RW_SESSION)
            if not rw and self._login(record.token_id).user == CKU.SO:
                raise CKRError(CKR.SESSION_READ_WRITE_SO_EXISTS)
            if self.config and self.config.max_sessions and len(self._sessions) >= self.config.max_sessions:
                raise CKRError(CKR.SESSION_COUNT)
            handle = next(self._session_ids)
            self._sessions[handle] = Session(handle, slot_id, record.token_id, rw)
            return handle

    def close_session(self, handle: int) -> None:
        with self._lock:
            session = self._session(handle)
            self._close(session)

    def _close(self, session: Session) -> None:
        del self._sessions[session.handle]
        session.ops.clear()
        self.manager.drop_session(session.handle)
        if not any(s.token_id == session.token_id for s in self._sessions.values()):
            # Closing the application's last session on a token logs it out (v2.40 §5.6).
            state = self._logins.pop(session.token_id, None)
            if state is not None and state.user is not None:
                self.store.forget_keys()
                state.clear()          # zeroes the master key (issue 10)
                self.manager.forget_private(session.token_id)

    def close_all_sessions(self, slot_id: int) -> None:
        self._require_init()
        with self._lock:
            self._token_in(slot_id)
            for session in [s for s in self._sessions.values() if s.slot_id == slot_id]:
                self._close(session)

    def get_session_info(self, handle: int) -> SessionInfo:
        session = self._session(handle)
        flags = SessionFlag.SERIAL_SESSION | (SessionFlag.RW_SESSION if session.rw else 0)
        state = session.state(self._login(session.token_id).user)
        return SessionInfo(session.slot_id, int(state), int(flags))

    # --- login --------------------------------------------------------------------------------
    def login(self, handle: int, user_type: int, pin: bytes | None) -> None:
        session = self._session(handle)
        assert self.config is not None
        if pin is None:
            raise CKRError(CKR.ARGUMENTS_BAD, "no protected authentication path: a PIN is required")
        if user_type not in (CKU.SO, CKU.USER, CKU.CONTEXT_SPECIFIC):
            raise CKRError(CKR.USER_TYPE_INVALID)
        with self._lock:
            state = self._login(session.token_id)
            record = self.store.get_token(session.token_id)
            if user_type == CKU.CONTEXT_SPECIFIC:
                self._context_login(session, state, record, pin)
                return
            if state.user is not None:
                raise CKRError(CKR.USER_ALREADY_LOGGED_IN if state.user == user_type
                               else CKR.USER_ANOTHER_ALREADY_LOGGED_IN)
            if user_type == CKU.SO and any(not s.rw for s in self._sessions.values()
                                           if s.token_id == session.token_id):
                raise CKRError(CKR.SESSION_READ_ONLY_EXISTS)
            if user_type == CKU.USER and not record.user_pin_initialized:
                raise CKRError(CKR.USER_PIN_NOT_INITIALIZED)
            master_key = authenticate(self.store, self.config, record, CKU(user_type), pin)
            state.user = CKU(user_type)
            state.master_key = master_key
            if user_type == CKU.USER:
                self.manager.forget_token_objects()   # private objects become visible

    def _context_login(self, session: Session, state: LoginState, record: TokenRecord, pin: bytes) -> None:
        """CKU_CONTEXT_SPECIFIC re-authenticates the user for the one active operation that
        uses a CKA_ALWAYS_AUTHENTICATE key (v2.40 §5.6 C_Login)."""
        waiting = [a for a in session.ops.values() if a.needs_context_login]
        if not waiting:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
        if state.user != CKU.USER:
            raise CKRError(CKR.USER_NOT_LOGGED_IN)
        assert self.config is not None
        zero(authenticate(self.store, self.config, record, CKU.USER, pin))
        for active in waiting:
            active.needs_context_login = False

    def logout(self, handle: int) -> None:
        session = self._session(handle)
        with self._lock:
            state = self._login(session.token_id)
            if state.user is None:
                raise CKRError(CKR.USER_NOT_LOGGED_IN)
            # Operations (and the pyca keys they hold) first, then the derived keys, the
            # master key and the cached objects, each zeroed as it goes (issue 10).
            for s in self._sessions.values():
                if s.token_id == session.token_id:
                    s.ops.clear()
            self.store.forget_keys()
            state.clear()
            self.manager.forget_private(session.token_id)

    def init_pin(self, handle: int, pin: bytes) -> None:
        session = self._session(handle)
        assert self.config is not None
        with self._lock:
            state = self._login(session.token_id)
            if not session.rw:
                raise CKRError(CKR.SESSION_READ_ONLY)
            if state.user != CKU.SO or state.master_key is None:
                raise CKRError(CKR.USER_NOT_LOGGED_IN, "C_InitPIN needs the SO logged in")
            check_pin_length(self.config, pin)
            self.store.set_pin(session.token_id, CKU.USER, state.master_key, pin, self._kdf())

    def set_pin(self, handle: int, old: bytes, new: bytes) -> None:
        """Changes the PIN of the logged-in user, or the user PIN when nobody is logged in."""
        session = self._session(handle)
        assert self.config is not None
        with self._lock:
            if not session.rw:
                raise CKRError(CKR.SESSION_READ_ONLY)
            state = self._login(session.token_id)
            who = state.user if state.user is not None else CKU.USER   # CKU.SO is 0: falsy
            record = self.store.get_token(session.token_id)
            if who == CKU.USER and not record.user_pin_initialized:
                raise CKRError(CKR.USER_PIN_NOT_INITIALIZED)
            master_key = authenticate(self.store, self.config, record, who, old)
            try:
                check_pin_length(self.config, new)
                self.store.set_pin(session.token_id, who, master_key, new, self._kdf())
            finally:
                if master_key is not state.master_key:
                    zero(master_key)   # this call's own copy (issue 10)

    # --- objects ------------------------------------------------------------------------------
    def _check_write(self, session: Session, attrs: dict) -> None:
        """Token objects need an R/W session; private objects need the user logged in."""
        if attrs.get(CKA.TOKEN) and not session.rw:
            raise CKRError(CKR.SESSION_READ_ONLY)
        if attrs.get(CKA.PRIVATE) and self._visibility(session).master_key is None:
            raise CKRError(CKR.USER_NOT_LOGGED_IN)

    def create_object(self, handle: int, template: list[tuple[int, Any]]) -> int:
        session = self._session(handle)
        so = self._login(session.token_id).user == CKU.SO
        attrs = rules.build(template, rules.Op.CREATE, so=so)   # footnote 10: CKA_TRUSTED
        self._check_write(session, attrs)
        cls = attrs[CKA.CLASS]
        if cls in (CKO.PUBLIC_KEY, CKO.PRIVATE_KEY, CKO.SECRET_KEY):
            attrs.update(key_rules.normalize_key_attrs(cls, attrs[CKA.KEY_TYPE], attrs))
        attrs.update(checkvalue.attrs_for(attrs))     # secret keys and X.509 certificates
        return self.manager.add(attrs, self._visibility(session), session.handle)

    def copy_object(self, handle: int, obj: int, template: list[tuple[int, Any]]) -> int:
        session = self._session(handle)
        vis = self._visibility(session)
        ref = self.manager.get(obj, vis)
        attrs = rules.copy(dict(ref.attrs), template)
        attrs.pop(CKA.UNIQUE_ID, None)
        self._check_write(session, attrs)
        return self.manager.add(attrs, vis, session.handle)

    def destroy_object(self, handle: int, obj: int) -> None:
        session = self._session(handle)
        ref = self.manager.get(obj, self._visibility(session))
        if ref.on_token and not session.rw:
            raise CKRError(CKR.SESSION_READ_ONLY)
        if not ref.attrs.get(CKA.DESTROYABLE, True):
            raise CKRError(CKR.ACTION_PROHIBITED)
        self.manager.destroy(ref)
        # Operations of this process (any session) that use the key fail at their next
        # call (operations.KeyDestroyed; another process's destroy: _check_key_alive).
        operations.revoke_key(list(self._sessions.values()), obj)
        del ref
        self.manager.sweep()      # its values, now unreferenced, are wiped (issue 10)

    def get_object_size(self, handle: int, obj: int) -> int:
        session = self._session(handle)
        return ObjectManager.size(self.manager.get(obj, self._visibility(session)).attrs)

    def get_attribute_value(self, handle: int, obj: int, types: list[int]) -> list[Any]:
        session = self._session(handle)
        self.manager.refresh()
        ref = self.manager.get(obj, self._visibility(session))
        # a value, or rules.Unreadable.SENSITIVE / INVALID (v3.0 §5.7.5)
        return [rules.readable(ref.attrs, cka) for cka in types]

    def set_attribute_value(self, handle: int, obj: int, template: list[tuple[int, Any]]) -> None:
        session = self._session(handle)
        vis = self._visibility(session)
        self.manager.refresh()
        ref = self.manager.get(obj, vis)
        if ref.on_token and not session.rw:
            raise CKRError(CKR.SESSION_READ_ONLY)
        so = self._login(session.token_id).user == CKU.SO
        changes = rules.set(dict(ref.attrs), template, so=so)
        self.manager.update(ref, changes, vis)

    def find_objects_init(self, handle: int, template: list[tuple[int, Any]]) -> None:
        session = self._session(handle)
        with session.lock:
            if OpSlot.FIND in session.ops:
                raise CKRError(CKR.OPERATION_ACTIVE)
            self.manager.refresh()
            wanted = dict(template)
            results = self.manager.find(wanted, self._visibility(session))
            session.begin(OpSlot.FIND, ActiveOperation(op=None, results=results))

    def find_objects(self, handle: int, max_count: int) -> list[int]:
        session = self._session(handle)
        with session.lock:
            active = session.active(OpSlot.FIND)
            out, active.results = active.results[:max_count], active.results[max_count:]
            return out

    def find_objects_final(self, handle: int) -> None:
        session = self._session(handle)
        with session.lock:
            session.active(OpSlot.FIND)
            session.end(OpSlot.FIND)

    # --- key generation -----------------------------------------------------------------------
    def generate_key(self, handle: int, mech: Mechanism, template: list[tuple[int, Any]]) -> int:
        session = self._session(handle)
        entry = registry.get(mech.type)
        if not entry.flags & MechanismFlag.GENERATE or entry.generate is None:
            raise CKRError(CKR.MECHANISM_INVALID)
        registry.check_param(entry, mech.param)
        attrs = rules.build(template, rules.Op.GENERATE, cls=CKO.SECRET_KEY,
                            key_type=entry.gen_key_type, mechanism=mech.type)
        self._check_write(session, attrs)
        attrs.update(entry.generate(mech.param, attrs))
        attrs.update(checkvalue.attrs_for(attrs))
        return self.manager.add(attrs, self._visibility(session), session.handle)

    def generate_key_pair(self, handle: int, mech: Mechanism, public_template: list[tuple[int, Any]],
                          private_template: list[tuple[int, Any]]) -> tuple[int, int]:
        session = self._session(handle)
        entry = registry.get(mech.type)
        if not entry.flags & MechanismFlag.GENERATE_KEY_PAIR or entry.generate_pair is None:
            raise CKRError(CKR.MECHANISM_INVALID)
        registry.check_param(entry, mech.param)
        pub = rules.build(public_template, rules.Op.GENERATE, cls=CKO.PUBLIC_KEY,
                          key_type=entry.gen_key_type, mechanism=mech.type)
        priv = rules.build(private_template, rules.Op.GENERATE, cls=CKO.PRIVATE_KEY,
                           key_type=entry.gen_key_type, mechanism=mech.type)
        self._check_write(session, pub)
        self._check_write(session, priv)
        floor = self._generation_floor(entry)
        bits = pub.get(CKA.MODULUS_BITS)
        if floor and isinstance(bits, int) and bits < floor:
            raise CKRError(CKR.KEY_SIZE_RANGE, f"RSA keys below {floor} bits are not generated "
                           "(rsa_min_generate_bits in strongroom.toml, at least 1024)")
        pub_add, priv_add = entry.generate_pair(mech.param, pub, priv)
        pub.update(pub_add)
        priv.update(priv_add)
        vis = self._visibility(session)
        pub_handle = self.manager.add(pub, vis, session.handle)
        try:
            priv_handle = self.manager.add(priv, vis, session.handle)
        except Exception:
            # Never leave half a pair behind (e.g. the quota ran out between the two).
            self.manager.destroy(self.manager.get(pub_handle, vis))
            raise
        return pub_handle, priv_handle

    # --- cryptographic operations ----------------------------------------------------------------
    def _begin(self, handle: int, kind: OpKind, mech: Mechanism, key: int | None) -> None:
        session = self._session(handle)
        with session.lock:
            ref = km = version = None
            if key is not None:
                objects = self.manager
                if not SESSION_HANDLE_BASE <= key:
                    # A token object: one PRAGMA data_version sees another process's
                    # commit. Session objects live in this process only: no store read.
                    version = objects.refresh()   # what _check_key_alive compares with
                try:
                    ref = objects.get(key, self._visibility(session))
                except CKRError as exc:
                    if exc.rv == CKR.OBJECT_HANDLE_INVALID:
                        raise CKRError(CKR.KEY_HANDLE_INVALID) from None
                    raise
                km = objects.key_material(ref)
            operations.begin(session, kind, mech, ref, km, version)

    def _check_key_alive(self, session: Session, slot: OpSlot) -> None:
        """A token key destroyed by another process since C_*Init: one data_version probe
        (the shim's, ~0.3 µs) per call of an operation on a token key; the object is
        looked up again only when some connection has committed since. A vanished key
        makes the operation fail at this call (operations.KeyDestroyed). Session keys and
        digests have no ``key_version`` and cost one dict lookup here."""
        active = session.ops.get(slot)
        if active is None:
            return
        seen = active.key_version
        if seen is None:
            return
        version = self._store.data_version()   # type: ignore[union-attr]  (initialised: session exists)
        if version != seen:
            self._recheck_key(session, active, version)

    def _recheck_key(self, session: Session, active: ActiveOperation, version: int) -> None:
        objects = self.manager
        objects.refresh()
        try:
            objects.get(active.key_handle, self._visibility(session))
        except CKRError:
            operations.revoke_key((session,), active.key_handle)
        active.key_version = version

    def refuse_call(self, h: int, slot: str, rv: int) -> None:
        """An error the ABI found before reading the call's data (NULL length pointer,
        NULL data pointer with a length, data above max_data_len): the operation in
        ``slot`` (an OpSlot value, e.g. "encrypt") ends like on any other error. The
        argument error is the answer even for an unknown session handle."""
        try:
            session = self._session(h)
        except CKRError:
            raise CKRError(rv) from None
        with session.lock:
            operations.refuse(session, OpSlot(slot), rv)

    def encrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.ENCRYPT, mech, key)

    def decrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.DECRYPT, mech, key)

    def sign_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.SIGN, mech, key)

    def verify_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.VERIFY, mech, key)

    def digest_init(self, h: int, mech: Mechanism) -> None:
        self._begin(h, OpKind.DIGEST, mech, None)

    def _single(self, h: int, slot: OpSlot, data: bytes, capacity: int | None, out: Any = None) -> Any:
        session = self._session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.single(session, slot, data, capacity, out)

    def _update(self, h: int, slot: OpSlot, data: bytes, capacity: int | None = 0,
                output: bool = False) -> bytes | int:
        session = self._session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.update(session, slot, data, capacity, produces_output=output)

    def _final(self, h: int, slot: OpSlot, capacity: int | None) -> bytes | int:
        session = self._session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.final(session, slot, capacity)

    def encrypt(self, h: int, data: bytes, capacity: int | None, out: Any = None) -> bytes | int:
        """``out``: optionally the caller's writable output buffer (len = capacity); when
        the operation wrote its output there the result is the length written (int)."""
        return self._single(h, OpSlot.ENCRYPT, data, capacity, out)

    def encrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._update(h, OpSlot.ENCRYPT, data, capacity, output=True)

    def encrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, OpSlot.ENCRYPT, capacity)

    def decrypt(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.DECRYPT, data, capacity)

    def decrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._update(h, OpSlot.DECRYPT, data, capacity, output=True)

    def decrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, OpSlot.DECRYPT, capacity)

    def digest(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.DIGEST, data, capacity)

    def digest_update(self, h: int, data: bytes) -> None:
        self._update(h, OpSlot.DIGEST, data)

    def digest_key(self, h: int, key: int) -> None:
        """C_DigestKey feeds a secret key's value into the digest without revealing it."""
        session = self._session(h)
        with session.lock:
            session.active(OpSlot.DIGEST)
            try:       # like every error but BUFFER_TOO_SMALL, these end the digest (§5.2)
                ref = self.manager.get(key, self._visibility(session))
            except CKRError:
                session.end(OpSlot.DIGEST)
                raise CKRError(CKR.KEY_HANDLE_INVALID) from None
            if ref.attrs.get(CKA.CLASS) != CKO.SECRET_KEY or CKA.VALUE not in ref.attrs:
                session.end(OpSlot.DIGEST)
                raise CKRError(CKR.KEY_INDIGESTIBLE)
            operations.update(session, OpSlot.DIGEST, ref.attrs[CKA.VALUE])

    def digest_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, OpSlot.DIGEST, capacity)

    def sign(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.SIGN, data, capacity)

    def sign_update(self, h: int, data: bytes) -> None:
        self._update(h, OpSlot.SIGN, data)

    def sign_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, OpSlot.SIGN, capacity)

    def verify(self, h: int, data: bytes, signature: bytes) -> None:
        session = self._session(h)
        with session.lock:
            self._check_key_alive(session, OpSlot.VERIFY)
            operations.verify_single(session, data, signature)

    def verify_update(self, h: int, data: bytes) -> None:
        self._update(h, OpSlot.VERIFY, data)

    def verify_final(self, h: int, signature: bytes) -> None:
        session = self._session(h)
        with session.lock:
            self._check_key_alive(session, OpSlot.VERIFY)
            operations.verify_final(session, signature)

    # --- recover, key management, message API, KEM (token/keyops.py) ----------------------------
    def sign_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.SIGN_RECOVER, mech, key)

    def sign_recover(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.SIGN_RECOVER, data, capacity)

    def verify_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.VERIFY_RECOVER, mech, key)

    def verify_recover(self, h: int, signature: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.VERIFY_RECOVER, signature, capacity)

    def derive_key(self, h: int, mech: Mechanism, base: int, template: list[tuple[int, Any]]) -> int:
        return keyops.derive_key(self, h, mech, base, template)

    def wrap_key(self, h: int, mech: Mechanism, wrapping: int, key: int, capacity: int | None) -> bytes | int:
        return keyops.wrap_key(self, h, mech, wrapping, key, capacity)

    def unwrap_key(self, h: int, mech: Mechanism, unwrapping: int, wrapped: bytes,
                   template: list[tuple[int, Any]]) -> int:
        return keyops.unwrap_key(self, h, mech, unwrapping, wrapped, template)

    def encapsulate_key(self, h: int, mech: Mechanism, public: int, template: list[tuple[int, Any]],
                        capacity: int | None) -> tuple[bytes, int] | int:
        return keyops.encapsulate_key(self, h, mech, public, template, capacity)

    def decapsulate_key(self, h: int, mech: Mechanism, private: int, template: list[tuple[int, Any]],
                        ciphertext: bytes) -> int:
        return keyops.decapsulate_key(self, h, mech, private, template, ciphertext)

    def message_encrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        keyops.message_init(self, h, OpKind.ENCRYPT, mech, key)

    def message_decrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        keyops.message_init(self, h, OpKind.DECRYPT, mech, key)

    def message_param_type(self, h: int, encrypt: bool) -> type | None:
        return keyops.message_param_type(self, h, OpKind.ENCRYPT if encrypt else OpKind.DECRYPT)

    def encrypt_message(self, h: int, param: Any, aad: bytes, data: bytes,
                        capacity: int | None) -> tuple[bytes, Any] | int:
        return keyops.encrypt_message(self, h, param, aad, data, capacity)

    def decrypt_message(self, h: int, param: Any, aad: bytes, data: bytes, capacity: int | None) -> bytes | int:
        return keyops.decrypt_message(self, h, param, aad, data, capacity)

    def message_begin(self, h: int, encrypt: bool, param: Any, aad: bytes) -> None:
        keyops.message_begin(self, h, OpKind.ENCRYPT if encrypt else OpKind.DECRYPT, param, aad)

    def message_next(self, h: int, encrypt: bool, param: Any, data: bytes, end: bool,
                     capacity: int | None) -> Any:
        kind = OpKind.ENCRYPT if encrypt else OpKind.DECRYPT
        return keyops.message_next(self, h, kind, param, data, end, capacity)

    def message_encrypt_final(self, h: int) -> None:
        keyops.message_final(self, h, OpKind.ENCRYPT)

    def message_decrypt_final(self, h: int) -> None:
        keyops.message_final(self, h, OpKind.DECRYPT)

    # --- random ---------------------------------------------------------------------------------
    def seed_random(self, h: int, seed: bytes) -> None:
        self._session(h)
        rng.seed_random(seed)

    def generate_random(self, h: int, length: int) -> bytes:
        self._session(h)
        return rng.generate_random(length)


LIBRARY = Library()
