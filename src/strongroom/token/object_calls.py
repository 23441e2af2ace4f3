"""Object management (v2.40 §5.7 / v3.0 §5.7): create, copy, destroy, size, attributes, find.

What a session may do to an object is the access table's business (token/access.py);
attribute rules are pkcs11/template.py's; key material checks are the key type
handler's (mechanisms/keys.py).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import template as rules
from ..pkcs11.constants import CKA, CKO, CKR, CKU
from ..pkcs11.errors import CKRError
from .objects import ObjectManager, ObjectRef
from .sessions import ActiveOperation, OpSlot, Session

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

    from .application import Application

    Template = list[tuple[int, Any]]
_KEY_CLASSES = (CKO.PUBLIC_KEY, CKO.PRIVATE_KEY, CKO.SECRET_KEY)


class ObjectCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    def create_object(self, handle: int, template: Template) -> int:
        app = self._app
        session = app.session(handle)
        so = app.user_on(session.token_id) == CKU.SO
        attrs = rules.build(template, rules.Op.CREATE, so=so)   # footnote 10: CKA_TRUSTED
        app.require_write(session, attrs)
        cls = attrs[CKA.CLASS]
        from ..mechanisms import checkvalue, keys  # deferred: pyca (cold start)

        if cls in _KEY_CLASSES:
            attrs.update(keys.normalize_key_attrs(cls, attrs[CKA.KEY_TYPE], attrs))
        attrs.update(checkvalue.attrs_for(attrs))     # secret keys and X.509 certificates
        return app.add_object(session, attrs)

    def copy_object(self, handle: int, obj: int, template: Template) -> int:
        app = self._app
        session = app.session(handle)
        ref = app.resolve(session, obj)
        attrs = rules.copy(dict(ref.attrs), template)
        attrs.pop(CKA.UNIQUE_ID, None)
        app.require_write(session, attrs)
        return app.add_object(session, attrs)

    def _writable(self, session: Session, obj: int) -> ObjectRef:
        """The object ``obj`` if ``session`` may change or destroy it."""
        app = self._app
        ref = app.resolve(session, obj)
        app.require_write(session, {CKA.TOKEN: ref.on_token, CKA.PRIVATE: ref.private})
        return ref

    def destroy_object(self, handle: int, obj: int) -> None:
        app = self._app
        session = app.session(handle)
        ref = self._writable(session, obj)
        if not ref.attrs.get(CKA.DESTROYABLE, True):
            raise CKRError(CKR.ACTION_PROHIBITED)
        manager = app.manager
        manager.destroy(ref)
        target = ref.handle
        # Operations of every application of this process that use the key fail at their
        # next call (operations.KeyDestroyed; another process's destroy: crypto_calls).
        app.core.revoke_key(target)
        with app.lock:
            app.handles.drop((target,))
        del ref
        manager.sweep()      # its values, now unreferenced, are wiped (issue 10)

    def get_object_size(self, handle: int, obj: int) -> int:
        app = self._app
        return ObjectManager.size(app.resolve(app.session(handle), obj).attrs)

    def get_attribute_value(self, handle: int, obj: int, types: list[int]) -> list[Any]:
        app = self._app
        session = app.session(handle)
        app.manager.refresh()
        ref = app.resolve(session, obj)
        # a value, or rules.Unreadable.SENSITIVE / INVALID (v3.0 §5.7.5)
        return [rules.readable(ref.attrs, cka) for cka in types]

    def set_attribute_value(self, handle: int, obj: int, template: Template) -> None:
        app = self._app
        session = app.session(handle)
        app.manager.refresh()
        ref = self._writable(session, obj)
        so = app.user_on(session.token_id) == CKU.SO
        changes = rules.set(dict(ref.attrs), template, so=so)
        app.manager.update(ref, changes, app.visibility(session))

    def find_objects_init(self, handle: int, template: Template) -> None:
        app = self._app
        session = app.session(handle)
        with session.lock:
            if OpSlot.FIND in session.ops:
                raise CKRError(CKR.OPERATION_ACTIVE)
            manager = app.manager
            manager.refresh()
            found = manager.find(dict(template), app.visibility(session))
            session.begin(OpSlot.FIND, ActiveOperation(op=None, results=app.handles_for(found)))

    def find_objects(self, handle: int, max_count: int) -> list[int]:
        session = self._app.session(handle)
        with session.lock:
            active = session.active(OpSlot.FIND)
            out, active.results = active.results[:max_count], active.results[max_count:]
            return out

    def find_objects_final(self, handle: int) -> None:
        session = self._app.session(handle)
        with session.lock:
            session.active(OpSlot.FIND)
            session.end(OpSlot.FIND)
