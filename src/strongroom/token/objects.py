"""Objects as the application sees them: session objects in memory, token objects in the store.

Handles: token objects use their store id (stable across sessions and processes, never
reused); session objects get handles from a separate range so the two never collide.
Private objects are visible only while the user is logged in (v2.40 §6.7).

Two caches make the hot path cheap: the attributes of token objects, and parsed key
objects (``KeyMaterial.parsed``). Both are flushed when another process commits (the
store's ``data_version`` changes), at logout, at C_Finalize and when an object is
destroyed, so no secret outlives the login that unlocked it.

Flushing is not enough by itself: CPython frees a ``bytes`` without clearing it. Every
attribute dict that leaves a cache or a session object is *retired*; :meth:`sweep`
wipes the secret values (wipe.py) of each retired dict nothing else references any
more -- at once when possible, else at the next sweep (an operation may still hold the
key) -- and runs at logout, C_Finalize, destroy and every flush. Parsed pyca keys are
released before the dicts, so OpenSSL frees them with its clear-free.
"""
from __future__ import annotations

import itertools
import threading

from .._records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

from ..pkcs11 import attributes
from ..pkcs11.constants import CKA, CKR
from ..pkcs11.errors import CKRError
from ..storage.base import Store
from ..wipe import wipe_all

SESSION_HANDLE_BASE = 0x4000_0000


# Plain classes, not dataclasses: building a dataclass costs ~0.5 ms at import, and these
# modules are imported at C_Initialize (cold start, docs/performance.md).

class Visibility:
    """What the caller may see on one token: private objects need a user login (the
    access table, token/access.py); session objects only in the application that made
    them (``app``)."""

    __slots__ = ("app", "master_key", "token_id")

    def __init__(self, token_id: int, master_key: bytearray | None, app: int = 0) -> None:
        self.token_id = token_id
        self.master_key = master_key     # set only while CKU_USER is logged in
        self.app = app


class SessionObject:
    __slots__ = ("app", "attrs", "owner", "token_id")

    def __init__(self, attrs: dict[int, Any], token_id: int, owner: int, app: int = 0) -> None:
        self.attrs = attrs
        self.token_id = token_id
        self.owner = owner               # session handle; the object dies with that session
        self.app = app                   # the application that made it: visible only there


class ObjectRef:
    """A resolved handle. ``attrs`` must be treated as read-only."""

    __slots__ = ("attrs", "handle", "on_token", "token_id")

    def __init__(self, handle: int, attrs: Mapping[int, Any], on_token: bool, token_id: int) -> None:
        self.handle = handle
        self.attrs = attrs
        self.on_token = on_token
        self.token_id = token_id

    @property
    def private(self) -> bool:
        return bool(self.attrs.get(CKA.PRIVATE, False))


class KeyMaterial:
    """What a mechanism sees of a key: all attributes plus the parsed-key cache.

    ``checks`` remembers the (kind, mechanism) pairs whose core key checks (class, type,
    usage, allowed mechanisms, size) passed for these very attributes, so a repeated
    C_SignInit does not re-parse CKA_EC_PARAMS / CKA_MODULUS for the key size. The whole
    object is dropped when the attributes change (``key_material`` compares identity),
    at logout, C_Finalize, destroy and on another process's commit.
    """

    __slots__ = ("_cache", "attrs", "checks")

    def __init__(self, attrs: Mapping[int, Any]) -> None:
        self.attrs = attrs
        self._cache: dict[Callable[[Mapping[int, Any]], Any], Any] = {}
        self.checks: dict[Any, bool] = {}

    def release(self) -> None:
        """Drop the parsed keys (pyca objects: OpenSSL clear-frees them when the last
        reference goes) and the attributes reference."""
        self._cache.clear()
        self.checks.clear()

    def parsed(self, loader: Callable[[Mapping[int, Any]], Any]) -> Any:
        try:
            return self._cache[loader]
        except KeyError:
            value = self._cache[loader] = loader(self.attrs)
            return value


def new_unique_id() -> str:
    """CKA_UNIQUE_ID: assigned once by the token, never settable (v3.0 §4.4.1)."""
    import uuid  # deferred: uuid imports platform (~2 ms of cold start)

    return uuid.uuid4().hex


class ObjectManager:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._session_objects: dict[int, SessionObject] = {}
        self._next_session_handle = itertools.count(SESSION_HANDLE_BASE)
        self._attr_cache: dict[int, dict[int, Any]] = {}
        self._key_cache: dict[int, KeyMaterial] = {}
        self._seen_version: int | None = None
        self._retired: list[dict[int, Any]] = []   # dropped attribute dicts, see sweep()

    # --- caches -----------------------------------------------------------------------
    def _flush_caches(self) -> None:
        """Empty both caches (lock held): parsed keys released, attribute dicts retired."""
        for km in self._key_cache.values():
            km.release()
        self._key_cache.clear()
        self._retired.extend(self._attr_cache.values())
        self._attr_cache.clear()

    def _drop_key(self, handle: int) -> None:
        km = self._key_cache.pop(handle, None)
        if km is not None:
            km.release()

    def sweep(self) -> None:
        """Wipe the secret values of retired attribute dicts that nothing else holds any
        more; keep the rest for a later sweep (bounded: the oldest are let go unwiped
        only if more than 4096 stay referenced, which no ordinary host reaches)."""
        with self._lock:
            if not self._retired:
                return
            retired = self._retired
            self._retired = []
            kept = wipe_all(retired)
            self._retired = (kept + self._retired)[-4096:]

    def refresh(self) -> int:
        """Drop cached token objects if another process committed since we last looked;
        returns the store's data version the cache now reflects."""
        version = self.store.data_version()
        if version != self._seen_version:
            with self._lock:
                self._flush_caches()
                self._seen_version = version
            self.sweep()
        return version

    def forget_token_objects(self) -> None:
        with self._lock:
            self._flush_caches()
        self.sweep()

    def forget_private(self, token_id: int, app: int) -> list[int]:
        """At logout: the application's private session objects are destroyed (v2.40 §5.6
        C_Logout) and every cached private value or parsed key is dropped and wiped.
        Returns the ids of the session objects destroyed."""
        with self._lock:
            gone = [h for h, o in self._session_objects.items()
                    if o.token_id == token_id and o.app == app and o.attrs.get(CKA.PRIVATE)]
            for handle in gone:
                self._retired.append(self._session_objects.pop(handle).attrs)
                self._drop_key(handle)
            self._flush_caches()
        self.sweep()
        return gone

    def clear(self) -> None:
        """C_Finalize: everything goes, secrets wiped."""
        with self._lock:
            self._retired.extend(o.attrs for o in self._session_objects.values())
            self._session_objects.clear()
            self._flush_caches()
        self.sweep()

    # --- lookup ------------------------------------------------------------------------
    def get(self, handle: int, vis: Visibility) -> ObjectRef:
        """Resolve a handle visible to the caller; CKR_OBJECT_HANDLE_INVALID otherwise."""
        sobj = self._session_objects.get(handle)
        if sobj is not None:
            if (sobj.token_id != vis.token_id or sobj.app != vis.app
                    or (sobj.attrs.get(CKA.PRIVATE) and vis.master_key is None)):
                raise CKRError(CKR.OBJECT_HANDLE_INVALID)
            return ObjectRef(handle, sobj.attrs, False, sobj.token_id)
        if handle <= 0 or handle >= SESSION_HANDLE_BASE:
            raise CKRError(CKR.OBJECT_HANDLE_INVALID)
        attrs = self._attr_cache.get(handle)
        if attrs is None:
            private = self.store.object_private(vis.token_id, handle)
            if private is None or (private and vis.master_key is None):
                raise CKRError(CKR.OBJECT_HANDLE_INVALID)
            attrs = self.store.load_object(vis.token_id, handle, vis.master_key)
            with self._lock:
                self._attr_cache[handle] = attrs
        elif attrs.get(CKA.PRIVATE) and vis.master_key is None:
            raise CKRError(CKR.OBJECT_HANDLE_INVALID)
        return ObjectRef(handle, attrs, True, vis.token_id)

    def key_material(self, ref: ObjectRef) -> KeyMaterial:
        with self._lock:
            km = self._key_cache.get(ref.handle)
            if km is None or km.attrs is not ref.attrs:
                km = self._key_cache[ref.handle] = KeyMaterial(ref.attrs)
            return km

    # --- mutation --------------------------------------------------------------------
    def add(self, attrs: dict[int, Any], vis: Visibility, session: int) -> int:
        """Store a new object (token or session, by CKA_TOKEN); returns its handle."""
        attrs.setdefault(CKA.UNIQUE_ID, new_unique_id())
        if attrs.get(CKA.TOKEN):
            handle = self.store.create_object(vis.token_id, attrs,
                                              vis.master_key if attrs.get(CKA.PRIVATE) else None)
            with self._lock:
                self._attr_cache[handle] = dict(attrs)
            return handle
        with self._lock:
            handle = next(self._next_session_handle)
            self._session_objects[handle] = SessionObject(dict(attrs), vis.token_id, session, vis.app)
        return handle

    def update(self, ref: ObjectRef, changes: Mapping[int, Any], vis: Visibility) -> None:
        if not changes:
            return
        if ref.on_token:
            self.store.update_object(vis.token_id, ref.handle, changes,
                                     vis.master_key if ref.private else None)
            with self._lock:
                old = self._attr_cache.get(ref.handle)
                self._attr_cache[ref.handle] = {**ref.attrs, **changes}
                if old is not None:
                    self._retired.append(old)
                self._drop_key(ref.handle)
        else:
            with self._lock:
                sobj = self._session_objects[ref.handle]
                self._retired.append(sobj.attrs)
                sobj.attrs = {**sobj.attrs, **changes}
                self._drop_key(ref.handle)

    def destroy(self, ref: ObjectRef) -> None:
        """Gone from the store and the caches; its values are wiped by the next sweep that
        finds them unreferenced (the caller's ``ref`` still holds them here)."""
        if ref.on_token:
            self.store.destroy_object(ref.token_id, ref.handle)
        with self._lock:
            sobj = self._session_objects.pop(ref.handle, None)
            if sobj is not None:
                self._retired.append(sobj.attrs)
            attrs = self._attr_cache.pop(ref.handle, None)
            if attrs is not None:
                self._retired.append(attrs)
            self._drop_key(ref.handle)
        self.sweep()

    def drop_session(self, session: int) -> list[int]:
        """Session objects vanish with the session that created them; returns their ids."""
        with self._lock:
            gone = [h for h, o in self._session_objects.items() if o.owner == session]
            for handle in gone:
                self._retired.append(self._session_objects.pop(handle).attrs)
                self._drop_key(handle)
        self.sweep()
        return gone

    def drop_token(self, token_id: int) -> None:
        with self._lock:
            for handle in [h for h, o in self._session_objects.items() if o.token_id == token_id]:
                self._retired.append(self._session_objects.pop(handle).attrs)
            self._flush_caches()
        self.sweep()

    def is_session_object(self, target: int) -> bool:
        return target >= SESSION_HANDLE_BASE

    def private_token_objects(self, token_id: int, targets: list[int]) -> list[int]:
        """Which of ``targets`` are private objects of token ``token_id`` (at logout their
        handles are dropped: token/handles.py). One indexed store read per object."""
        found = []
        for target in targets:
            if target < SESSION_HANDLE_BASE and self.store.object_private(token_id, target):
                found.append(target)
        return found

    # --- search ------------------------------------------------------------------------
    def find(self, template: Mapping[int, Any], vis: Visibility) -> list[int]:
        """Handles of visible objects matching every template attribute: token objects
        through the store's index, then this application's session objects."""
        want_token = template.get(CKA.TOKEN)
        found: list[int] = []
        if want_token is not False:
            found.extend(self.store.find_objects(vis.token_id, template, vis.master_key))
        if want_token is not True:
            for handle, sobj in list(self._session_objects.items()):
                if sobj.token_id != vis.token_id or sobj.app != vis.app:
                    continue
                if sobj.attrs.get(CKA.PRIVATE) and vis.master_key is None:
                    continue
                if all(t in sobj.attrs and sobj.attrs[t] == v for t, v in template.items()):
                    found.append(handle)
        return found

    @staticmethod
    def size(attrs: Mapping[int, Any]) -> int:
        """C_GetObjectSize: the bytes of the encoded attributes (an honest approximation)."""
        return sum(8 + len(attributes.encode(t, v)) for t, v in attrs.items())
